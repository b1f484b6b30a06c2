using System.Runtime.InteropServices;
using Prefork.App;
using Prefork.Control;
using Prefork.Master;
using Prefork.Tests.Master;
using Prefork.Serving;
using static Prefork.Tests.Master.ArbiterRig;

namespace Prefork.Tests.Metrics;

/// <summary>
/// The master's numbers as a view over the Arbiter's one worker table: sums over live workers plus the
/// retired totals of dead ones; never backwards.
/// </summary>
public class MasterMetricsTests
{
    [Fact]
    public void Method_labels_follow_the_method_enum()
    {
        Assert.Equal(Enum.GetNames<Method>().Select(n => n.ToUpperInvariant()), WorkerCounters.Methods);
    }

    [Fact]
    public void Report_line_round_trips_and_rejects_other_layouts()
    {
        var metrics = new WorkerMetrics(1, openConnections: () => 1);
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
        Assert.False(WorkerCounters.TryParse(ControlChannel.Ready, out _));
    }

    [Fact]
    public void Totals_sum_live_workers_and_keep_dead_workers_counts()
    {
        using var rig = new ArbiterRig("--workers", "2");
        rig.Run();
        var (w1, w2) = (rig.Started[0], rig.Started[1]);
        rig.AllReady();
        rig.Say(w1, Report(getOk: 10, accepted: 4, open: 2));
        rig.Say(w2, Report(getOk: 5, accepted: 3, open: 1));
        var before = rig.Metrics.Snapshot();
        Assert.Equal(15, before.Total.TotalRequests);
        Assert.Equal(3, before.Total.OpenConnections);
        Assert.Equal(4, before.AcceptedByWorker[1]);

        rig.Exit(w1, 1);
        var w3 = rig.Started[2];
        Assert.Equal(1, w3.Number);
        rig.Say(w3, Report(getOk: 1, accepted: 1));
        var after = rig.Metrics.Snapshot();
        Assert.Equal(16, after.Total.TotalRequests);
        Assert.Equal(5, after.AcceptedByWorker[1]);
        Assert.Equal(1, after.OpenByWorker.Values.Sum());
        Assert.Equal(1, after.Restarts[RestartCause.Crash]);
        Assert.Equal(2, after.WorkersAlive);
    }

    [Fact]
    public void A_report_after_exit_or_a_smaller_report_changes_nothing()
    {
        using var rig = new ArbiterRig("--workers", "1");
        rig.Run();
        var w1 = rig.Started[0];
        rig.Say(w1, ControlChannel.Ready);
        rig.Say(w1, Report(getOk: 10, accepted: 4));
        rig.Say(w1, Report(getOk: 3, accepted: 1));
        Assert.Equal(10, rig.Metrics.Snapshot().Total.TotalRequests);
        rig.Exit(w1, 1);
        rig.Say(w1, Report(getOk: 50, accepted: 50));
        rig.Say(new FakeChild(999, 1, 0), Report(getOk: 50, accepted: 50));
        Assert.Equal(10, rig.Metrics.Snapshot().Total.TotalRequests);

        // Workers that exit because the master stops are not restarts.
        rig.Signal(PosixSignal.SIGTERM);
        var w2 = Assert.Single(rig.Alive);
        Assert.Equal([ControlChannel.Stop], w2.Commands);
        Assert.Equal(0, rig.Exit(w2, 0));
        var s = rig.Metrics.Snapshot();
        Assert.Equal(10, s.Total.TotalRequests);
        Assert.Equal(0, s.WorkersAlive);
        Assert.Equal(1, s.Restarts[RestartCause.Crash]);
        Assert.Equal(1, s.Restarts.Values.Sum());
    }

    [Fact]
    public void Status_rows_tell_age_and_last_beat()
    {
        using var rig = new ArbiterRig("--workers", "2");
        rig.Run();
        var (w1, w2) = (rig.Started[0], rig.Started[1]);
        rig.Advance(5000);
        rig.Say(w1, Report(getOk: 7, accepted: 2, open: 1));
        rig.Say(w2, ControlChannel.Ready);
        rig.Advance(1500);
        var rows = rig.Metrics.Status();
        Assert.Equal([w1.Pid, w2.Pid], rows.Select(w => w.Pid));
        Assert.Equal(new WorkerStatus(w1.Pid, 1, 0, TimeSpan.FromMilliseconds(6500), 7, 1, TimeSpan.FromMilliseconds(1500)), rows[0]);
        var lines = StatusTable.Lines(rows);
        Assert.Equal(StatusTable.Header, lines[0]);
        Assert.Equal(3, lines.Count);
        Assert.Matches($@"^\s+{w1.Pid}\s+1\s+0\s+6s\s+7\s+1\s+1\.5s ago$", lines[1]);
    }
}
