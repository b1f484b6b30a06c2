using Prefork.Control;

namespace Prefork.Master;

/// <summary>Why a worker was replaced or went away, as prefork_worker_restarts_total{cause} counts it.</summary>
public static class RestartCause
{
    public const string Crash = "crash", Timeout = "timeout", MaxRequests = "max_requests", Reload = "reload", ScaleDown = "scale_down";
    public static readonly string[] All = [Crash, Timeout, MaxRequests, Reload, ScaleDown];
}

/// <summary>One worker's line in the status table.</summary>
public sealed record WorkerStatus(int Pid, int Number, int Generation, TimeSpan Age, long Requests, long Connections, TimeSpan SinceHeartbeat);

/// <summary>A live worker as a view holds it; <paramref name="Last"/> is its last report, which nobody changes.</summary>
public sealed record WorkerRow(int Pid, int Number, int Generation, long Started, long LastSeen, WorkerCounters Last);

/// <summary>
/// What exited workers leave behind: their last reports summed (per worker number too, so a slot's series
/// never goes backwards across a restart) and the restarts by cause. Immutable: each exit makes a new one.
/// </summary>
public sealed class RetiredTotals
{
    public static readonly RetiredTotals None = new(new WorkerCounters(), new SortedDictionary<int, long>(), RestartCause.All.ToDictionary(c => c, _ => 0L));

    private RetiredTotals(WorkerCounters total, SortedDictionary<int, long> acceptedByNumber, Dictionary<string, long> restarts)
    {
        Total = total;
        AcceptedByNumber = acceptedByNumber;
        Restarts = restarts;
    }

    public WorkerCounters Total { get; }
    public IReadOnlyDictionary<int, long> AcceptedByNumber { get; }
    public IReadOnlyDictionary<string, long> Restarts { get; }

    /// <summary>These totals plus worker <paramref name="number"/>'s last report. <paramref name="cause"/> null: not a restart (the master is stopping).</summary>
    public RetiredTotals With(int number, WorkerCounters last, string? cause)
    {
        var total = new WorkerCounters();
        total.Add(Total);
        total.Add(last);
        // Open connections are a gauge: a dead worker holds none.
        total.OpenConnections = 0;
        var accepted = new SortedDictionary<int, long>(AcceptedByNumber.ToDictionary());
        accepted[number] = accepted.GetValueOrDefault(number) + last.Accepted;
        var restarts = Restarts.ToDictionary();
        if (cause != null) restarts[cause] = restarts.GetValueOrDefault(cause) + 1;
        return new RetiredTotals(total, accepted, restarts);
    }
}

/// <summary>
/// The worker table as the Arbiter published it after its last event: immutable, so the metrics endpoint's
/// thread and the meter read it without a lock. Sums are made when read (a scrape), not on each event.
/// </summary>
public sealed record MetricsView(IReadOnlyList<WorkerRow> Workers, RetiredTotals Retired)
{
    public static readonly MetricsView Empty = new([], RetiredTotals.None);

    public static MetricsView Of(IEnumerable<WorkerProcess> workers, RetiredTotals retired) =>
        new(workers.Select(w => new WorkerRow(w.Pid, w.Number, w.Generation, w.Started, w.LastSeen, w.Last)).ToArray(), retired);

    /// <summary>Counters summed over live and retired workers, gauges over live ones.</summary>
    public MetricsSnapshot Snapshot(TimeSpan uptime)
    {
        var total = new WorkerCounters();
        total.Add(Retired.Total);
        var accepted = new SortedDictionary<int, long>(Retired.AcceptedByNumber.ToDictionary());
        var open = new SortedDictionary<int, long>();
        foreach (var w in Workers)
        {
            total.Add(w.Last);
            accepted[w.Number] = accepted.GetValueOrDefault(w.Number) + w.Last.Accepted;
            open[w.Number] = open.GetValueOrDefault(w.Number) + w.Last.OpenConnections;
        }
        return new MetricsSnapshot(total, accepted, open, Retired.Restarts, Workers.Count, uptime);
    }

    /// <summary>One row per live worker, by number then pid; ages as of <paramref name="now"/>.</summary>
    public IReadOnlyList<WorkerStatus> Status(long now) =>
        Workers.OrderBy(w => w.Number).ThenBy(w => w.Pid)
            .Select(w => new WorkerStatus(w.Pid, w.Number, w.Generation, TimeSpan.FromMilliseconds(now - w.Started),
                w.Last.TotalRequests, w.Last.OpenConnections, TimeSpan.FromMilliseconds(now - w.LastSeen)))
            .ToList();
}

/// <summary>The aggregated numbers at one instant: counters summed over live and retired workers, gauges over live ones.</summary>
public sealed record MetricsSnapshot(
    WorkerCounters Total,
    IReadOnlyDictionary<int, long> AcceptedByWorker,
    IReadOnlyDictionary<int, long> OpenByWorker,
    IReadOnlyDictionary<string, long> Restarts,
    int WorkersAlive,
    TimeSpan Uptime)
{
    /// <summary>When the served certificate expires (UTC); null without TLS.</summary>
    public DateTime? CertificateNotAfter { get; init; }
}
