using System.Runtime.InteropServices;
using Prefork;
using Prefork.Worker;
using Prefork.Worker.Apps;
using Prefork.Worker.Http;

// A worker is started by the master, never by hand: it inherits the listening sockets and its settings.
WorkerSettings settings;
try
{
    settings = WorkerSettings.FromEnvironment();
}
catch (Exception e) when (e is InvalidOperationException or FormatException)
{
    Log.Critical($"Worker cannot boot: {e.Message}");
    return ControlChannel.BootErrorExitCode;
}
Log.MinimumLevel = settings.LogLevel;

var channel = new MasterChannel();
var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
_ = channel.Stopped.ContinueWith(t => stop.TrySetResult(t.Result ? "stop from master" : "master is gone"));

// TERM and QUIT from anyone mean a graceful stop. INT is ignored: Ctrl-C reaches the whole process group,
// and the master turns it into an orderly stop of every worker.
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult("SIGTERM"); });
using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { c.Cancel = true; stop.TrySetResult("SIGQUIT"); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);

WorkerServer? server = null;
server = new WorkerServer(settings, new DemoApp(settings, () => server!.RequestsServed));
server.Start();

// One tick a second: the Date header, connection deadlines, and the heartbeat that tells the master this
// worker's loop still turns.
using var tick = new Timer(_ =>
{
    DateHeader.Refresh();
    server.Sweep();
    channel.Send(ControlChannel.FormatHeartbeat(server.RequestsServed, server.OpenConnections));
}, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

channel.Send(ControlChannel.Ready);

var why = await stop.Task;
// An orphaned worker must not linger: without a master nobody would replace or stop it.
var drainTime = why == "master is gone" ? TimeSpan.FromSeconds(2) : settings.GracefulTimeout;
Log.Info($"Worker {settings.Number} stopping ({why}), draining {server.OpenConnections} connection(s)");
bool clean = await server.DrainAsync(drainTime);
Log.Info($"Worker exiting (pid {Environment.ProcessId}): served {server.RequestsServed} requests" +
         (clean ? "" : $", {server.OpenConnections} connection(s) cut off at the deadline"));
return 0;
