using System.Diagnostics;
using System.Threading.Channels;

namespace Prefork.Master;

/// <summary>
/// One worker as the master sees it: the child process, its control channel (its stdin and stdout), and what
/// its reports last said. Everything it learns it posts to the arbiter's event queue; it decides nothing.
/// </summary>
public sealed class WorkerProcess
{
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
        var apphost = Path.Combine(AppContext.BaseDirectory, "Prefork.Worker");
        if (File.Exists(apphost))
        {
            start.FileName = apphost;
        }
        else
        {
            start.FileName = "dotnet";
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Prefork.Worker.dll"));
        }
        foreach (var (name, value) in settings.ToEnvironment()) start.Environment[name] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var worker = new WorkerProcess(settings.Number, generation, process);
        // The exit is posted after the worker's last line (its final metrics report), so the master never
        // reaps a worker and then hears from it; bounded, in case something else holds the pipe open.
        var channelClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Subscribed before Start, so even a worker that dies at once is reported.
        process.Exited += async (_, _) =>
        {
            await Task.WhenAny(channelClosed.Task, Task.Delay(1000));
            events.TryWrite(new WorkerExited(worker, process.ExitCode));
        };
        process.Start();
        worker.Pid = process.Id;
        _ = Task.Run(async () =>
        {
            try
            {
                string? line;
                while ((line = await process.StandardOutput.ReadLineAsync()) != null) events.TryWrite(new WorkerMessage(worker, line));
            }
            finally
            {
                channelClosed.TrySetResult();
            }
        });
        return worker;
    }

    /// <summary>Graceful: the worker stops accepting, finishes what it has, and exits; killed if it is not done in time.</summary>
    public void Stop(TimeSpan gracefulTimeout)
    {
        if (Stopping) return;
        MarkStopping(gracefulTimeout);
        Send(ControlChannel.Stop);
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
