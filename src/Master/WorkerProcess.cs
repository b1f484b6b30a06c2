using System.Diagnostics;
using System.Threading.Channels;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// One worker as the master sees it: the child process, its control channel (its stdin and stdout), and what
/// its reports last said. Everything it learns it posts to the arbiter's event queue; it decides nothing.
/// </summary>
public sealed class WorkerProcess
{
    private const string WriteXorExecute = "DOTNET_EnableWriteXorExecute";
    private readonly Process _process;

    private WorkerProcess(int number, int generation, Process process)
    {
        Number = number;
        Generation = generation;
        _process = process;
    }

    public int Number { get; }
    /// <summary>Bumped by each reload (SIGHUP); workers of an older generation are stopped once the new one is ready.</summary>
    public int Generation { get; }
    public long Started { get; } = Environment.TickCount64;
    public long StopDeadline { get; private set; } = long.MaxValue;
    public int Pid { get; private set; }
    public bool Ready { get; set; }
    public bool Stopping { get; private set; }
    public bool Killed { get; private set; }
    public long Requests { get; set; }
    public int Connections { get; set; }
    public long LastHeartbeat { get; set; } = Environment.TickCount64;

    public static WorkerProcess Spawn(WorkerSettings settings, int generation, ChannelWriter<ArbiterEvent> events)
    {
        var start = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
        };
        WorkerExecutable.Configure(start);
        start.Environment[WorkerSettings.EnvironmentVariable] = settings.ToJson();
        // W^X mapping of JIT code costs a JIT worker start time and memory and buys little in a process that
        // loads no code from the network. A setting the operator made in the environment wins.
        if (Environment.GetEnvironmentVariable(WriteXorExecute) == null) start.Environment[WriteXorExecute] = "0";

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var worker = new WorkerProcess(settings.Number, generation, process);
        // Subscribed before Start, so even a worker that dies at once is reported.
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        process.Start();
        worker.Pid = process.Id;
        _ = Task.Run(async () =>
        {
            try
            {
                string? line;
                while ((line = await process.StandardOutput.ReadLineAsync()) != null) events.TryWrite(new WorkerMessage(worker, line));
            }
            catch (IOException)
            {
            }
            // The exit is posted only after the worker's last message: otherwise a worker that said it was
            // retiring and then exited could be reaped first, as if it had died unexpectedly.
            await exited.Task;
            events.TryWrite(new WorkerExited(worker, process.ExitCode));
        });
        return worker;
    }

    /// <summary>
    /// Graceful: the worker stops accepting, finishes what it has, and exits; killed if it is not done in time.
    /// When the whole server stops, it first takes the connections already queued, which no sibling will.
    /// </summary>
    public void Stop(TimeSpan gracefulTimeout, bool serverStopping)
    {
        if (Stopping) return;
        MarkStopping(gracefulTimeout);
        Send(serverStopping ? ControlChannel.Stop : ControlChannel.Retire);
    }

    /// <summary>The worker is on its way out (it said so, or was told): it no longer counts towards the target.</summary>
    public void MarkStopping(TimeSpan gracefulTimeout)
    {
        Stopping = true;
        StopDeadline = Environment.TickCount64 + (long)gracefulTimeout.TotalMilliseconds;
    }

    public void Send(string command)
    {
        try
        {
            _process.StandardInput.WriteLine(command);
            _process.StandardInput.Flush();
        }
        catch (IOException)
        {
            // Already gone: its exit event is on its way.
        }
    }

    public void Kill()
    {
        if (Killed) return;
        Killed = true;
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public override string ToString() => $"worker {Number} (pid {Pid})";
}
