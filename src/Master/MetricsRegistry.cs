using System.Diagnostics.Metrics;
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

/// <summary>
/// The master's view of every worker's counters. Each worker reports its cumulative counts once a second;
/// this keeps the last report per live worker and, when a worker exits, folds that last report into the
/// retired totals (per worker number too), so a restart never makes a counter go backwards. The arbiter's
/// loop writes; the metrics endpoint reads from another thread, hence the lock (a few times a second, never
/// per request).
/// </summary>
public sealed class MetricsRegistry : IDisposable
{
    public const string MeterName = "Prefork.Master";

    private sealed class Entry(int pid, int number, int generation, long now)
    {
        public int Pid { get; } = pid;
        public int Number { get; } = number;
        public int Generation { get; } = generation;
        public long Started { get; } = now;
        public long LastSeen { get; set; } = now;
        public bool Retiring { get; set; }
        public WorkerCounters Last { get; set; } = new();
    }

    private readonly object _gate = new();
    private readonly Func<long> _clock;
    private readonly long _started;
    private readonly Dictionary<int, Entry> _live = new();
    private readonly WorkerCounters _retired = new();
    private readonly SortedDictionary<int, long> _retiredAcceptedByNumber = new();
    private readonly Dictionary<string, long> _restarts = RestartCause.All.ToDictionary(c => c, _ => 0L);
    private readonly Meter _meter;

    /// <summary><paramref name="clock"/>: milliseconds, <see cref="Environment.TickCount64"/> unless a test says otherwise.</summary>
    public MetricsRegistry(Func<long>? clock = null)
    {
        _clock = clock ?? (() => Environment.TickCount64);
        _started = _clock();
        _meter = new Meter(MeterName);
        _meter.CreateObservableCounter("prefork.worker.restarts", ObserveRestarts, "{restart}", "Workers replaced or retired, by cause");
        _meter.CreateObservableGauge("prefork.workers.alive", () => WorkersAlive, "{worker}", "Worker processes alive");
        _meter.CreateObservableGauge("prefork.uptime", () => Uptime.TotalSeconds, "s", "Seconds since the master started");
    }

    public TimeSpan Uptime => TimeSpan.FromMilliseconds(_clock() - _started);

    public int WorkersAlive { get { lock (_gate) return _live.Count; } }

    public void Booted(int pid, int number, int generation)
    {
        lock (_gate) _live[pid] = new Entry(pid, number, generation, _clock());
    }

    /// <summary>Every line a worker sends: it is alive now; a metrics line is its new report. Unknown (exited) pids are ignored.</summary>
    public void Message(int pid, string line)
    {
        lock (_gate)
        {
            if (!_live.TryGetValue(pid, out var entry)) return;
            entry.LastSeen = _clock();
            if (line == ControlChannel.Retiring) entry.Retiring = true;
            else if (line.StartsWith(ControlChannel.Metrics, StringComparison.Ordinal) && WorkerCounters.TryParse(line, out var counters)) Report(entry, counters);
        }
    }

    /// <summary>Counters only grow: a report older than the one kept (reordered, or from a confused worker) changes nothing backwards.</summary>
    private static void Report(Entry entry, WorkerCounters counters)
    {
        if (counters.TotalRequests < entry.Last.TotalRequests || counters.Accepted < entry.Last.Accepted) return;
        entry.Last = counters;
    }

    /// <summary>A worker exited: its last report joins the retired totals. <paramref name="cause"/> null: not a restart (the master is stopping).</summary>
    public void Exited(int pid, string? cause)
    {
        lock (_gate)
        {
            if (!_live.Remove(pid, out var entry)) return;
            var last = entry.Last;
            last.OpenConnections = 0;
            _retired.Add(last);
            _retiredAcceptedByNumber[entry.Number] = _retiredAcceptedByNumber.GetValueOrDefault(entry.Number) + last.Accepted;
            if (cause != null) _restarts[cause] = _restarts.GetValueOrDefault(cause) + 1;
        }
    }

    /// <summary>Whether the worker announced it reached --max-requests (so its exit is a max_requests restart).</summary>
    public bool IsRetiring(int pid)
    {
        lock (_gate) return _live.TryGetValue(pid, out var e) && e.Retiring;
    }

    /// <summary>Everything the endpoint renders, taken at one instant.</summary>
    public MetricsSnapshot Snapshot()
    {
        lock (_gate)
        {
            var total = new WorkerCounters();
            total.Add(_retired);
            var accepted = new SortedDictionary<int, long>(_retiredAcceptedByNumber);
            var open = new SortedDictionary<int, long>();
            foreach (var e in _live.Values)
            {
                total.Add(e.Last);
                accepted[e.Number] = accepted.GetValueOrDefault(e.Number) + e.Last.Accepted;
                open[e.Number] = open.GetValueOrDefault(e.Number) + e.Last.OpenConnections;
            }
            return new MetricsSnapshot(total, accepted, open, new Dictionary<string, long>(_restarts), _live.Count, Uptime);
        }
    }

    /// <summary>One row per live worker, by number then pid.</summary>
    public IReadOnlyList<WorkerStatus> Status()
    {
        lock (_gate)
        {
            long now = _clock();
            return _live.Values.OrderBy(e => e.Number).ThenBy(e => e.Pid)
                .Select(e => new WorkerStatus(e.Pid, e.Number, e.Generation, TimeSpan.FromMilliseconds(now - e.Started),
                    e.Last.TotalRequests, e.Last.OpenConnections, TimeSpan.FromMilliseconds(now - e.LastSeen)))
                .ToList();
        }
    }

    private IEnumerable<Measurement<long>> ObserveRestarts()
    {
        Dictionary<string, long> restarts;
        lock (_gate) restarts = new(_restarts);
        foreach (var (cause, count) in restarts) yield return new Measurement<long>(count, new KeyValuePair<string, object?>("cause", cause));
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>The aggregated numbers at one instant: counters summed over live and retired workers, gauges over live ones.</summary>
public sealed record MetricsSnapshot(
    WorkerCounters Total,
    IReadOnlyDictionary<int, long> AcceptedByWorker,
    IReadOnlyDictionary<int, long> OpenByWorker,
    IReadOnlyDictionary<string, long> Restarts,
    int WorkersAlive,
    TimeSpan Uptime);
