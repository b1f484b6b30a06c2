using System.Runtime.InteropServices;
using Prefork;
using Prefork.App;
using Prefork.Control;
using Prefork.Http;
using Prefork.Http.Loop;
using Prefork.Worker;
using Prefork.Worker.Apps;
using Prefork.Worker.Static;

// A worker is started by the master, never by hand: it inherits the listening sockets and its settings.
WorkerSettings settings;
AccessLog? accessLog;
try
{
    settings = WorkerSettings.FromEnvironment();
    // Privileges go first, before a log file is opened or a byte is served.
    Native.DropPrivileges(settings.Uid, settings.Gid);
    if (settings.ErrorLog != null) Log.ToFile(settings.ErrorLog);
    accessLog = settings.AccessLogFd >= 0 ? new AccessLog(settings.AccessLogFd, settings.AccessLogFormat)
        : settings.AccessLog != null ? new AccessLog(settings.AccessLog, settings.AccessLogFormat)
        : null;
}
catch (Exception e) when (e is InvalidOperationException or FormatException or IOException or UnauthorizedAccessException)
{
    Log.Critical($"Worker cannot boot: {e.Message}");
    return ControlChannel.BootErrorExitCode;
}
Log.MinimumLevel = settings.LogLevel;

// One loop runs the worker (nginx's worker cycle): its connections, the master's commands, the tick, and
// every report to the master. The other threads only post to it: the accept thread hands over connections,
// signal handlers hand over stops.
var loop = EventLoop.Shared;
void OnLoop(Action work) => loop.Post(static w => ((Action)w!)(), work);

const string MasterGone = "master is gone";
const string ServerStopping = "the server is stopping";
var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
var channel = new MasterChannel(command =>
{
    switch (command)
    {
        case null: stop.TrySetResult(MasterGone); break;
        case ControlChannel.Stop: stop.TrySetResult(ServerStopping); break;
        case ControlChannel.Retire: stop.TrySetResult("retired by the master"); break;
        case ControlChannel.Reopen:
            Log.Reopen();
            accessLog?.Reopen();
            break;
    }
});

// TERM and QUIT from anyone mean a graceful stop, taken by the loop when it next turns, like a command. INT is
// ignored: Ctrl-C reaches the whole process group, and the master turns it into an orderly stop of every worker.
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; OnLoop(() => stop.TrySetResult("SIGTERM")); });
using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { c.Cancel = true; OnLoop(() => stop.TrySetResult("SIGQUIT")); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);

using var metrics = new WorkerMetrics(settings.Number);
WorkerServer? server = null;
IHttpApp app;
try
{
    app = settings.AppAssembly == null ? new DemoApp(settings, () => server!.RequestsServed)
        : AppLoader.Load(settings.AppAssembly, settings.AppType);
    if (settings.StaticRoot != null) app = new StaticThenApp(new StaticFiles(settings.StaticRoot, settings.StaticPrefix), app);
}
catch (Exception e)
{
    // Whatever the user's assembly throws while loading, a worker that cannot build its app cannot serve;
    // exit code 3 makes the master give up instead of respawning it forever.
    Log.Critical($"Worker cannot boot: {e.Message}");
    return ControlChannel.BootErrorExitCode;
}
server = new WorkerServer(settings, app) { Traffic = new WorkerTraffic(metrics, accessLog) };
_ = server.Retire.ContinueWith(_ => OnLoop(() =>
{
    channel.Send(ControlChannel.Retiring);
    stop.TrySetResult($"served {server.RequestsServed} requests, its --max-requests");
}));
server.Start();

OnLoop(() =>
{
    channel.Send(ControlChannel.Ready);
    // Once a second, on the loop itself: the Date header, connection deadlines, and the report that is the heartbeat, which a
    // loop held up by app code therefore does not send (nor a sync worker inside a request), so the master's
    // --timeout catches it.
    loop.EverySecond(() =>
    {
        DateHeader.Refresh();
        server.Sweep();
        if (server.Stuck) return;
        channel.Send(metrics.Snapshot().Format());
    });
    channel.Listen();
});

var why = await Task.WhenAny(stop.Task, OrphanedAsync()).Unwrap();
// An orphaned worker must not linger: without a master nobody would replace or stop it.
var drainTime = why == MasterGone ? TimeSpan.FromSeconds(2) : settings.GracefulTimeout;
Log.Info($"Worker {settings.Number} stopping ({why}), draining {server.OpenConnections} connection(s)");
// Only when the whole server stops (or its master is gone) does a worker take what is still queued:
// otherwise a sibling will.
bool clean = await server.DrainAsync(drainTime, takeBacklog: why is ServerStopping or MasterGone);
// The final report: everything served reaches the master's totals. It leaves from the loop like every report;
// a loop still held by app code a tick after the drain ended cannot send it, and that worker loses its last
// second of counts, as a SIGKILLed one does.
var reported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
OnLoop(() =>
{
    channel.SendLast(metrics.Snapshot().Format());
    reported.SetResult();
});
await Task.WhenAny(reported.Task, Task.Delay(TimeSpan.FromSeconds(1)));
Log.Debug($"GC: {GC.CollectionCount(0)} gen0, {GC.CollectionCount(1)} gen1, {GC.CollectionCount(2)} gen2 collections; " +
          $"{GC.GetTotalAllocatedBytes() / 1024} KiB allocated; peak working set {Environment.WorkingSet / 1024 / 1024} MB");
Log.Info($"Worker exiting (pid {Environment.ProcessId}): served {server.RequestsServed} requests" +
         (clean ? "" : $", {server.OpenConnections} connection(s) cut off at the deadline"));
return 0;

// The loop hears of the master's death from its channel, but a loop held by app code hears nothing until the
// app lets go, and nobody else would stop an orphan: the main thread, idle until the stop, watches the parent.
static async Task<string> OrphanedAsync()
{
    int master = Native.ParentPid;
    using var second = new PeriodicTimer(TimeSpan.FromSeconds(1));
    while (Native.ParentPid == master) await second.WaitForNextTickAsync();
    return MasterGone;
}
