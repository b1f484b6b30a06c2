using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// One row of the Arbiter's worker table: the child it started, and what the worker last said. Only the
/// Arbiter's loop reads or writes it; the metrics see it through the <see cref="MetricsView"/> it publishes.
/// </summary>
public sealed class WorkerProcess(IWorkerChild child, int number, int scoreboardSlot, int generation, long now)
{
    public IWorkerChild Child { get; } = child;
    public int Pid => Child.Pid;
    public int Number { get; } = number;
    /// <summary>Its own for life, unlike its number, which its replacement takes while it may still be serving.</summary>
    public int ScoreboardSlot { get; } = scoreboardSlot;
    /// <summary>Bumped by each reload (SIGHUP); workers of an older generation are stopped once the new one is ready.</summary>
    public int Generation { get; } = generation;
    public long Started { get; } = now;
    /// <summary>When the worker last said anything: any line proves it alive; its once-a-second report is the heartbeat.</summary>
    public long LastSeen { get; set; } = now;
    public bool Ready { get; set; }
    /// <summary>It announced it reached --max-requests: it is replaced, then stopped, and its exit is a max_requests restart.</summary>
    public bool Retiring { get; set; }
    public bool Stopping { get; private set; }
    public long StopDeadline { get; private set; } = long.MaxValue;
    public bool Killed { get; private set; }
    /// <summary>Its last counters report; never changed once kept, so a published view may hold it.</summary>
    public WorkerCounters Last { get; private set; } = new();

    /// <summary>Counters only grow: a report older than the one kept (reordered, or from a confused worker) changes nothing backwards.</summary>
    public void Report(WorkerCounters counters)
    {
        if (counters.TotalRequests < Last.TotalRequests || counters.Accepted < Last.Accepted) return;
        Last = counters;
    }

    /// <summary>
    /// Graceful: the worker stops accepting, finishes what it has, and exits; killed if it is not done in time.
    /// When the whole server stops, it first takes the connections already queued, which no sibling will.
    /// </summary>
    public void Stop(long now, TimeSpan gracefulTimeout, bool serverStopping)
    {
        if (Stopping) return;
        Stopping = true;
        StopDeadline = now + (long)gracefulTimeout.TotalMilliseconds;
        Send(serverStopping ? ControlChannel.Stop : ControlChannel.Retire);
    }

    public void Send(string command) => Child.Send(command);

    public void Kill()
    {
        if (Killed) return;
        Killed = true;
        Child.Kill();
    }

    public override string ToString() => $"worker {Number} (pid {Pid})";
}
