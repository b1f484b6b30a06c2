using Prefork.App;
using Prefork.Control;
using Prefork.Master;
using Prefork.Worker;

namespace Prefork.Tests.Metrics;

/// <summary>The master's aggregation: sums over live workers plus the retired totals of dead ones; never backwards.</summary>
public class MetricsRegistryTests
{
    private long _now = 1_000_000;

    private MetricsRegistry NewRegistry() => new(() => _now);

    private static string Report(long getOk, long accepted, long open = 0, long bytesOut = 0)
    {
        var c = new WorkerCounters { Accepted = accepted, OpenConnections = open, BytesOut = bytesOut };
        c.Requests[(int)Method.Get * 5 + 1] = getOk;
        c.DurationBuckets[0] = getOk;
        return c.Format();
    }

    [Fact]
    public void Method_labels_follow_the_method_enum()
    {
        Assert.Equal(Enum.GetNames<Method>().Select(n => n.ToUpperInvariant()), WorkerCounters.Methods);
    }

    [Fact]
    public void Report_line_round_trips_and_rejects_other_layouts()
    {
        var metrics = new WorkerMetrics();
        metrics.ConnectionOpened();
        metrics.RequestDone(Method.Post, 201, 100, 7, System.Diagnostics.Stopwatch.GetTimestamp());
        metrics.RequestDone(Method.Get, 404, 50, 9, 0);
        var line = metrics.Snapshot().Format();
        Assert.True(WorkerCounters.TryParse(line, out var c));
        Assert.Equal(1, c.Requests[(int)Method.Post * 5 + 1]);
        Assert.Equal(1, c.Requests[(int)Method.Get * 5 + 3]);
        Assert.Equal(150, c.BytesIn);
        Assert.Equal(16, c.BytesOut);
        Assert.Equal(1, c.Accepted);
        Assert.Equal(1, c.OpenConnections);
        Assert.Equal(1, c.DurationBuckets.Sum());
        Assert.False(WorkerCounters.TryParse("metrics 1 2 3", out _));
        Assert.False(WorkerCounters.TryParse(line + ",0", out _));
        Assert.False(WorkerCounters.TryParse("heartbeat 1 2", out _));
    }

    [Fact]
    public void Totals_sum_live_workers_and_keep_dead_workers_counts()
    {
        using var r = NewRegistry();
        r.Booted(101, 1, 0);
        r.Booted(102, 2, 0);
        r.Message(101, Report(getOk: 10, accepted: 4, open: 2));
        r.Message(102, Report(getOk: 5, accepted: 3, open: 1));
        var before = r.Snapshot();
        Assert.Equal(15, before.Total.TotalRequests);
        Assert.Equal(3, before.Total.OpenConnections);
        Assert.Equal(4, before.AcceptedByWorker[1]);

        r.Exited(101, RestartCause.Crash);
        r.Booted(103, 1, 0);
        r.Message(103, Report(getOk: 1, accepted: 1));
        var after = r.Snapshot();
        Assert.Equal(16, after.Total.TotalRequests);
        Assert.Equal(5, after.AcceptedByWorker[1]);
        Assert.Equal(1, after.OpenByWorker.Values.Sum());
        Assert.Equal(1, after.Restarts[RestartCause.Crash]);
        Assert.Equal(2, after.WorkersAlive);
    }

    [Fact]
    public void A_report_after_exit_or_a_smaller_report_changes_nothing()
    {
        using var r = NewRegistry();
        r.Booted(101, 1, 0);
        r.Message(101, Report(getOk: 10, accepted: 4));
        r.Message(101, Report(getOk: 3, accepted: 1));
        Assert.Equal(10, r.Snapshot().Total.TotalRequests);
        r.Exited(101, null);
        r.Message(101, Report(getOk: 50, accepted: 50));
        r.Message(999, Report(getOk: 50, accepted: 50));
        var s = r.Snapshot();
        Assert.Equal(10, s.Total.TotalRequests);
        Assert.Equal(0, s.WorkersAlive);
        Assert.All(s.Restarts.Values, v => Assert.Equal(0, v));
    }

    [Fact]
    public void Retiring_is_remembered_and_status_rows_tell_age_and_last_beat()
    {
        using var r = NewRegistry();
        r.Booted(202, 2, 1);
        r.Booted(201, 1, 1);
        _now += 5000;
        r.Message(201, Report(getOk: 7, accepted: 2, open: 1));
        r.Message(202, ControlChannel.Retiring);
        _now += 1500;
        Assert.True(r.IsRetiring(202));
        Assert.False(r.IsRetiring(201));
        var rows = r.Status();
        Assert.Equal([201, 202], rows.Select(w => w.Pid));
        Assert.Equal(new WorkerStatus(201, 1, 1, TimeSpan.FromMilliseconds(6500), 7, 1, TimeSpan.FromMilliseconds(1500)), rows[0]);
        var lines = StatusTable.Lines(rows);
        Assert.Equal(StatusTable.Header, lines[0]);
        Assert.Equal(3, lines.Count);
        Assert.Matches(@"^\s+201\s+1\s+1\s+6s\s+7\s+1\s+1\.5s ago$", lines[1]);
    }
}
