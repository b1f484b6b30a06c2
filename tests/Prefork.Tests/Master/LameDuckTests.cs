using System.Runtime.InteropServices;
using Prefork.Control;

namespace Prefork.Tests.Master;

/// <summary>The Arbiter's side of --shutdown-delay, in process with a clock the test moves.</summary>
public class LameDuckTests
{
    [Fact]
    public void Term_makes_the_server_a_lame_duck_and_stops_it_only_once_the_delay_is_over()
    {
        using var rig = new ArbiterRig("--workers", "2", "--shutdown-delay", "5");
        rig.Run();
        Assert.False(rig.Metrics.Serving);
        rig.AllReady();
        Assert.True(rig.Metrics.Serving);

        Assert.Null(rig.Signal(PosixSignal.SIGTERM));
        Assert.False(rig.Metrics.Serving);
        Assert.All(rig.Started, w => Assert.Equal([ControlChannel.Unready], w.Commands));
        Assert.Null(rig.Signal(PosixSignal.SIGTERM));
        Assert.All(rig.Started, w => Assert.Equal([ControlChannel.Unready], w.Commands));

        // A worker lost in the lame duck is replaced, and its replacement answers health with 503 too.
        rig.Exit(rig.Started[0], 1);
        var replacement = Assert.Single(rig.Started.Skip(2));
        Assert.Equal([ControlChannel.Unready], replacement.Commands);

        Assert.Null(rig.Advance(4999));
        Assert.All(rig.Alive, w => Assert.DoesNotContain(ControlChannel.Stop, w.Commands));
        Assert.Null(rig.Advance(1));
        Assert.All(rig.Alive, w => Assert.Equal(ControlChannel.Stop, w.Commands.Last()));
        foreach (var worker in rig.Alive.ToList()) rig.Exit(worker, 0);
        Assert.Equal(0, rig.Run());
    }

    [Theory]
    [InlineData(PosixSignal.SIGINT)]
    [InlineData(PosixSignal.SIGQUIT)]
    public void Int_and_quit_skip_the_delay_and_end_it_early(PosixSignal signal)
    {
        using var rig = new ArbiterRig("--workers", "1", "--shutdown-delay", "5");
        rig.Run();
        rig.AllReady();
        rig.Signal(signal);
        Assert.Equal([ControlChannel.Stop], rig.Started[0].Commands);

        using var other = new ArbiterRig("--workers", "1", "--shutdown-delay", "5");
        other.Run();
        other.AllReady();
        other.Signal(PosixSignal.SIGTERM);
        other.Advance(1000);
        other.Signal(signal);
        Assert.Equal([ControlChannel.Unready, ControlChannel.Stop], other.Started[0].Commands);
    }

    [Fact]
    public void Without_a_delay_term_stops_at_once()
    {
        using var rig = new ArbiterRig("--workers", "1");
        rig.Run();
        rig.AllReady();
        rig.Signal(PosixSignal.SIGTERM);
        Assert.Equal([ControlChannel.Stop], rig.Started[0].Commands);
    }
}
