using System.Runtime.InteropServices;
using Prefork.Control;
using Prefork.Master;

namespace Prefork.Tests.Master;

/// <summary>The Arbiter's decisions, in process: a fake spawner, a clock the test moves, no sleeps.</summary>
public class ArbiterTests
{
    [Fact]
    public void A_worker_silent_for_the_timeout_is_killed_and_replaced()
    {
        using var rig = new ArbiterRig("--workers", "1", "--timeout", "5");
        rig.Run();
        var worker = Assert.Single(rig.Started);
        rig.Say(worker, ControlChannel.Ready);

        // The once-a-second report is the heartbeat: each one starts the count again.
        rig.Advance(4000);
        rig.Say(worker, ArbiterRig.Report(getOk: 1, accepted: 1));
        rig.Advance(5000);
        Assert.False(worker.Killed);
        rig.Advance(1);
        Assert.True(worker.Killed);
        Assert.Empty(worker.Commands);

        rig.Exit(worker, 128 + 9);
        Assert.Equal(2, rig.Started.Count);
        Assert.Equal(1, rig.Started[1].Number);
        Assert.Equal(1, rig.Restarts(RestartCause.Timeout));
        Assert.Equal(0, rig.Restarts(RestartCause.Crash));
    }

    [Fact]
    public void Workers_that_die_before_ready_are_retried_after_a_doubling_delay_then_given_up()
    {
        using var rig = new ArbiterRig("--workers", "1");
        rig.Run();
        // A worker that was ready is replaced at once: that is a crash, not a failed boot.
        rig.Say(rig.Started[0], ControlChannel.Ready);
        rig.Exit(rig.Started[0], 1);
        Assert.Equal(2, rig.Started.Count);

        foreach (long delay in new[] { 100, 200, 400, 800 })
        {
            int started = rig.Started.Count;
            Assert.Null(rig.Exit(rig.Started[^1], 1));
            Assert.Null(rig.Advance(delay - 1));
            Assert.Equal(started, rig.Started.Count);
            rig.Advance(1);
            Assert.Equal(started + 1, rig.Started.Count);
        }

        // The fifth failure in a row: no more spawning, and the master exits with the boot-error code.
        Assert.Equal(ControlChannel.BootErrorExitCode, rig.Exit(rig.Started[^1], 1));
        Assert.Equal(6, rig.Started.Count);
        Assert.Equal(6, rig.Restarts(RestartCause.Crash));
    }

    [Fact]
    public void A_replacement_that_cannot_boot_while_others_serve_is_retried_and_never_takes_them_down()
    {
        using var rig = new ArbiterRig("--workers", "2");
        rig.Run();
        rig.Say(rig.Started[0], ControlChannel.Ready);
        rig.Say(rig.Started[1], ControlChannel.Ready);
        // A worker crashes; its replacement finds its files half-renewed and exits with the boot-error code, again and again.
        rig.Exit(rig.Started[0], 1);
        Assert.Equal(3, rig.Started.Count);
        foreach (long delay in new[] { 100, 200, 400, 800, 1600, 3200, 6400 })
        {
            int started = rig.Started.Count;
            Assert.Null(rig.Exit(rig.Started[^1], ControlChannel.BootErrorExitCode));
            Assert.Null(rig.Advance(delay - 1));
            Assert.Equal(started, rig.Started.Count);
            Assert.Null(rig.Advance(1));
            Assert.Equal(started + 1, rig.Started.Count);
        }
        // The files are whole again: the next one boots, and the count of failures starts over.
        rig.Say(rig.Started[^1], ControlChannel.Ready);
        rig.Exit(rig.Started[1], 1);
        int before = rig.Started.Count;
        Assert.Null(rig.Exit(rig.Started[^1], ControlChannel.BootErrorExitCode));
        rig.Advance(100);
        Assert.Equal(before + 1, rig.Started.Count);
    }

    [Fact]
    public void Reload_stops_the_old_generation_only_once_all_the_new_one_is_ready()
    {
        using var rig = new ArbiterRig("--workers", "2");
        rig.Run();
        rig.AllReady();
        var old = rig.Started.ToList();

        rig.Signal(PosixSignal.SIGHUP);
        Assert.Equal(4, rig.Started.Count);
        var fresh = rig.Started.Skip(2).ToList();
        Assert.Equal([1, 2], fresh.Select(w => w.Number));
        Assert.Equal([0, 0, 1, 1], rig.Metrics.Status().OrderBy(s => s.Pid).Select(s => s.Generation));

        rig.Say(fresh[0], ControlChannel.Ready);
        Assert.All(old, w => Assert.Empty(w.Commands));
        rig.Say(fresh[1], ControlChannel.Ready);
        Assert.All(old, w => Assert.Equal([ControlChannel.Retire], w.Commands));
        Assert.All(fresh, w => Assert.Empty(w.Commands));

        foreach (var w in old) rig.Exit(w, 0);
        Assert.Equal(4, rig.Started.Count);
        Assert.Equal(2, rig.Restarts(RestartCause.Reload));
    }

    [Fact]
    public void Every_live_worker_has_a_scoreboard_slot_of_its_own_and_a_reaped_one_stops_counting()
    {
        using var rig = new ArbiterRig("--workers", "2");
        rig.Run();
        rig.AllReady();
        rig.Signal(PosixSignal.SIGHUP);
        // Until the new generation is ready, the old one accepts beside it: two numbers, four processes, four slots.
        Assert.Equal([1, 2, 1, 2], rig.Started.Select(w => w.Number));
        Assert.Equal([0, 1, 2, 3], rig.Started.Select(w => w.ScoreboardSlot));
        Assert.Equal(4, rig.Board.SlotsInUse);
        var (old1, old2, new1, new2) = (rig.Started[0], rig.Started[1], rig.Started[2], rig.Started[3]);
        rig.Board.Publish(old1.ScoreboardSlot, connections: 1, accepting: true);
        rig.Board.Publish(new1.ScoreboardSlot, connections: 7, accepting: true);
        Assert.Equal(1, rig.Board.LeastLoadedSibling(new2.ScoreboardSlot));

        rig.AllReady();
        rig.Exit(old1, 0);
        Assert.Equal(7, rig.Board.LeastLoadedSibling(new2.ScoreboardSlot));
        rig.Exit(old2, 0);
        Assert.Equal(4, rig.Board.SlotsInUse);

        // A crashed worker's replacement takes the lowest free slot, and the table shrinks to what is in use.
        rig.Exit(new2, 137);
        Assert.Equal(0, rig.Started[^1].ScoreboardSlot);
        Assert.Equal(2, rig.Started[^1].Number);
        Assert.Equal(3, rig.Board.SlotsInUse);
    }

    [Fact]
    public void Scaling_down_retires_the_oldest_worker_first()
    {
        using var rig = new ArbiterRig("--workers", "2");
        rig.Run();
        rig.AllReady();
        rig.Advance(1000);
        rig.Signal(PosixSignal.SIGTTIN);
        rig.AllReady();
        rig.Advance(1000);
        // Worker 1's replacement is the youngest, though it has the lowest number.
        rig.Exit(rig.Started[0], 1);
        rig.AllReady();
        var (second, third, firstAgain) = (rig.Started[1], rig.Started[2], rig.Started[3]);
        Assert.Equal((2, 3, 1), (second.Number, third.Number, firstAgain.Number));

        rig.Signal(PosixSignal.SIGTTOU);
        Assert.Equal([ControlChannel.Retire], second.Commands);
        Assert.Empty(third.Commands);
        rig.Signal(PosixSignal.SIGTTOU);
        Assert.Equal([ControlChannel.Retire], third.Commands);
        Assert.Empty(firstAgain.Commands);

        rig.Exit(second, 0);
        rig.Exit(third, 0);
        Assert.Equal(4, rig.Started.Count);
        Assert.Equal(2, rig.Restarts(RestartCause.ScaleDown));
    }

    [Fact]
    public void A_worker_at_max_requests_serves_until_its_replacement_is_ready_and_is_counted_as_such()
    {
        using var rig = new ArbiterRig("--workers", "2", "--max-requests", "10");
        rig.Run();
        rig.AllReady();
        var retiring = rig.Started[0];

        rig.Say(retiring, ControlChannel.Retiring);
        Assert.Equal(3, rig.Started.Count);
        var replacement = rig.Started[2];
        Assert.Equal(1, replacement.Number);
        // However long the replacement boots (an ASP.NET Core app: a second or more), the retiring worker serves on.
        rig.Advance(10_000);
        rig.Say(retiring, ArbiterRig.Report(getOk: 12, accepted: 12));
        Assert.Empty(retiring.Commands);
        Assert.Equal(3, rig.Started.Count);

        rig.Say(replacement, ControlChannel.Ready);
        Assert.Equal([ControlChannel.Retire], retiring.Commands);
        rig.Exit(retiring, 0);
        Assert.Equal(3, rig.Started.Count);
        Assert.Equal(1, rig.Restarts(RestartCause.MaxRequests));
        Assert.Equal(0, rig.Restarts(RestartCause.Crash));
    }
}
