using System.Diagnostics;
using System.Threading.Channels;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>How the Arbiter starts a worker. The real one starts a process; a test hands it one that starts nothing.</summary>
public interface IWorkerSpawner
{
    /// <summary>
    /// Starts a worker with <paramref name="settings"/>. Every line it writes, and then its exit, is posted to
    /// <paramref name="events"/> as a <see cref="WorkerMessage"/> or <see cref="WorkerExited"/> naming the child returned.
    /// </summary>
    IWorkerChild Start(WorkerSettings settings, ChannelWriter<ArbiterEvent> events);
}

/// <summary>A started worker, as the master acts on it: a line down its channel, or SIGKILL.</summary>
public interface IWorkerChild
{
    int Pid { get; }

    void Send(string command);

    void Kill();
}

/// <summary>Starts each worker as a child process whose stdin and stdout are its control channel.</summary>
public sealed class ProcessSpawner : IWorkerSpawner
{
    private const string WriteXorExecute = "DOTNET_EnableWriteXorExecute";
    private const string Gen0Budget = "DOTNET_GCgen0size";
    // 4 MiB, in hex as the runtime reads it.
    private const string WorkerGen0Budget = "400000";

    public IWorkerChild Start(WorkerSettings settings, ChannelWriter<ArbiterEvent> events)
    {
        var start = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
        };
        WorkerExecutable.Configure(start, settings);
        start.Environment[WorkerSettings.EnvironmentVariable] = settings.ToJson();
        // W^X mapping of JIT code costs a JIT worker start time and memory and buys little in a process that
        // loads no code from the network.
        RuntimeDefault(start, WriteXorExecute, "0");
        // The GC sizes its youngest generation from the CPU's cache: with a 260 MB L3 a worker filled over 100 MB
        // with garbage before its first collection, and under load every worker's RSS grew that far (8 MB idle, 58
        // after a burst of connections; 13 with 4 MiB, at the same CPU per request). Little outlives a request, so
        // a small budget collects cheaply. Prefork's own worker only: an ASP.NET Core app's process is its own to tune.
        if (settings.AppKind == AppKind.HttpApp) RuntimeDefault(start, Gen0Budget, WorkerGen0Budget);

        var child = new Child(new Process { StartInfo = start, EnableRaisingEvents = true });
        // Subscribed before Start, so even a worker that dies at once is reported.
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        child.Process.Exited += (_, _) => exited.TrySetResult();
        child.Process.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                string? line;
                while ((line = await child.Process.StandardOutput.ReadLineAsync()) != null) events.TryWrite(new WorkerMessage(child, line));
            }
            catch (IOException)
            {
            }
            // The exit is posted only after the worker's last message: otherwise a worker that said it was
            // retiring and then exited could be reaped first, as if it had died unexpectedly.
            await exited.Task;
            events.TryWrite(new WorkerExited(child, child.Process.ExitCode));
        });
        return child;
    }

    /// <summary>A runtime setting for the worker, unless the operator's environment (which the worker inherits) has its own.</summary>
    private static void RuntimeDefault(ProcessStartInfo start, string name, string value) => start.Environment.TryAdd(name, value);

    private sealed class Child(Process process) : IWorkerChild
    {
        public Process Process { get; } = process;

        public int Pid => Process.Id;

        public void Send(string command)
        {
            try
            {
                Process.StandardInput.WriteLine(command);
                Process.StandardInput.Flush();
            }
            catch (IOException)
            {
                // Already gone: its exit event is on its way.
            }
        }

        public void Kill()
        {
            try
            {
                Process.Kill();
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }
    }
}
