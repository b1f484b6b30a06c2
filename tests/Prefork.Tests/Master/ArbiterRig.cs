using System.Runtime.InteropServices;
using System.Threading.Channels;
using CommandLine;
using Prefork.Control;
using Prefork.Master;

namespace Prefork.Tests.Master;

/// <summary>A worker that was never started: it records what the Arbiter tells it.</summary>
public sealed class FakeChild(int pid, int number, int scoreboardSlot) : IWorkerChild
{
    public int Pid => pid;
    public int Number => number;
    public int ScoreboardSlot => scoreboardSlot;
    public List<string> Commands { get; } = new();
    public bool Killed { get; private set; }
    public bool Exited { get; set; }

    public void Send(string command) => Commands.Add(command);

    public void Kill() => Killed = true;
}

/// <summary>
/// The real Arbiter with a fake spawner and a clock the test moves: events go in as the pipes, process
/// exits and signal handlers would post them, and <see cref="Run"/> turns the loop until it would sleep.
/// No process, no socket, no sleep.
/// </summary>
public sealed class ArbiterRig : IWorkerSpawner, IDisposable
{
    private int _nextPid = 1000;

    public ArbiterRig(params string[] args)
    {
        var parsed = (Parsed<Options>)Parser.Default.ParseArguments<Options>(args);
        var (config, error) = MasterConfig.From(parsed.Value);
        Assert.True(config != null, error);
        Metrics = new MasterMetrics(() => Now);
        Arbiter = new Arbiter(config, new Listeners { Board = Board }, pidFile: null, spawner: this, clock: () => Now) { Metrics = Metrics };
    }

    /// <summary>A real scoreboard (a memfd), as the master makes for its workers.</summary>
    public Scoreboard Board { get; } = Scoreboard.Create();

    public long Now { get; private set; } = 1_000_000;
    public Arbiter Arbiter { get; }
    public MasterMetrics Metrics { get; }
    /// <summary>Every worker ever started, oldest first.</summary>
    public List<FakeChild> Started { get; } = new();
    public IEnumerable<FakeChild> Alive => Started.Where(c => !c.Exited);

    IWorkerChild IWorkerSpawner.Start(WorkerSettings settings, ChannelWriter<ArbiterEvent> events)
    {
        var child = new FakeChild(++_nextPid, settings.Number, settings.ScoreboardSlot);
        Started.Add(child);
        return child;
    }

    /// <summary>Turns the loop over everything queued and due; the master's exit code once it is done.</summary>
    public int? Run() => Arbiter.RunUntilIdle();

    public int? Advance(long milliseconds)
    {
        Now += milliseconds;
        return Run();
    }

    public int? Say(FakeChild worker, string line)
    {
        Arbiter.Post(new WorkerMessage(worker, line));
        return Run();
    }

    /// <summary>Every live worker says it is ready.</summary>
    public void AllReady()
    {
        foreach (var worker in Alive.ToList()) Say(worker, ControlChannel.Ready);
    }

    public int? Exit(FakeChild worker, int exitCode)
    {
        worker.Exited = true;
        Arbiter.Post(new WorkerExited(worker, exitCode));
        return Run();
    }

    public int? Signal(PosixSignal signal)
    {
        Arbiter.Post(new SignalReceived(signal));
        return Run();
    }

    /// <summary>A counters report as a worker sends it every second.</summary>
    public static string Report(long getOk, long accepted, long open = 0)
    {
        var c = new WorkerCounters { Accepted = accepted, OpenConnections = open };
        c.Requests[(int)Prefork.App.Method.Get * 5 + 1] = getOk;
        c.DurationBuckets[0] = getOk;
        return c.Format();
    }

    public long Restarts(string cause) => Metrics.Snapshot().Restarts[cause];

    public void Dispose() => Metrics.Dispose();
}
