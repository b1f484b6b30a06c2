using System.Runtime.InteropServices;
using Prefork.App;
using Prefork.Control;
using Prefork.Http;
using Prefork.Http.Loop;
using Prefork.Http.Tls;

namespace Prefork.Serving;

/// <summary>
/// A worker's life as a process, whatever app it serves (nginx's worker cycle). One loop runs the worker: its
/// connections, the master's commands, the tick, and every report to the master. The other threads only post
/// to it: the accept thread hands over connections, signal handlers hand over stops. <see cref="Boot"/> makes
/// the worker from the master's settings, <see cref="Start"/> serves an app and tells the master it is ready,
/// <see cref="Stopping"/> says when and why to stop, <see cref="StopAsync"/> drains and sends the last report.
/// The worker program runs them in a row (<see cref="RunAsync"/>); an ASP.NET Core app's process runs them
/// from its host's start and stop.
/// </summary>
public sealed class WorkerCycle
{
    private const string MasterGone = "master is gone";
    private const string ServerStopping = "the server is stopping";

    private readonly EventLoop _loop = EventLoop.Shared;
    private readonly TaskCompletionSource<string> _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly MasterChannel _channel;
    private readonly AccessLog? _accessLog;
    private readonly TlsServer? _tls;
    private readonly WorkerMetrics _metrics;
    private readonly IdleTrim _trim = new();
    // Held for the life of the process: a registration collected is a signal no longer handled.
    private readonly PosixSignalRegistration[] _signals;
    private WorkerServer? _server;
    private HealthCheck? _health;

    private WorkerCycle(WorkerSettings settings, AccessLog? accessLog, TlsServer? tls, int reportFd)
    {
        _tls = tls;
        Settings = settings;
        _accessLog = accessLog;
        _metrics = new WorkerMetrics(settings.Number, () => _server?.OpenConnections ?? 0);
        _channel = new MasterChannel(OnCommand, reportFd);
        // TERM and QUIT from anyone mean a graceful stop, taken by the loop when it next turns, like a command. INT is
        // ignored: Ctrl-C reaches the whole process group, and the master turns it into an orderly stop of every worker.
        _signals =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; OnLoop(() => _stop.TrySetResult("SIGTERM")); }),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { c.Cancel = true; OnLoop(() => _stop.TrySetResult("SIGQUIT")); }),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true),
        ];
        Stopping = Task.WhenAny(_stop.Task, OrphanedAsync()).Unwrap();
    }

    public WorkerSettings Settings { get; }

    public long RequestsServed => _server?.RequestsServed ?? 0;

    /// <summary>Completes, with the reason for the log, when the worker should stop: a command (the master's answer to its --max-requests among them), a signal, or its master gone.</summary>
    public Task<string> Stopping { get; }

    /// <summary>
    /// Reads the settings the master put in this process's environment, gives up privileges and opens the logs.
    /// Null, with the reason in the log, when the worker cannot boot: its process then exits with
    /// <see cref="ControlChannel.BootErrorExitCode"/>. <paramref name="reportFd"/>: see <see cref="MasterChannel"/>.
    /// </summary>
    public static WorkerCycle? Boot(int reportFd = MasterChannel.Stdout)
    {
        WorkerSettings settings;
        AccessLog? accessLog;
        TlsServer? tls;
        try
        {
            settings = WorkerSettings.FromEnvironment();
            Log.MinimumLevel = settings.LogLevel;
            // Privileges go first, before a log file is opened or a byte is served.
            Native.DropPrivileges(settings.Uid, settings.Gid);
            if (settings.ErrorLog != null) Log.ToFile(settings.ErrorLog);
            accessLog = settings.AccessLogFd >= 0 ? new AccessLog(settings.AccessLogFd, settings.AccessLogFormat)
                : settings.AccessLog != null ? new AccessLog(settings.AccessLog, settings.AccessLogFormat)
                : null;
            // Read by each new worker, as the user it serves as: a reload picks up a renewed certificate.
            tls = settings.Tls is { } files ? TlsServer.Load(files) : null;
            if (tls != null && settings.TicketKeysFd >= 0) SharedTicketKeys.Use(tls, settings.TicketKeysFd);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or IOException or UnauthorizedAccessException or TlsSetupException)
        {
            Log.Critical($"Worker cannot boot: {e.Message}");
            return null;
        }
        return new WorkerCycle(settings, accessLog, tls, reportFd);
    }

    /// <summary>The worker program's whole life: boot, make the app, serve until told to stop, drain. Returns the exit code.</summary>
    public static async Task<int> RunAsync(Func<WorkerCycle, IHttpApp> makeApp)
    {
        if (Boot() is not { } cycle) return ControlChannel.BootErrorExitCode;
        IHttpApp app;
        try
        {
            app = makeApp(cycle);
        }
        catch (Exception e)
        {
            // Whatever the user's assembly throws while loading, a worker that cannot build its app cannot serve;
            // exit code 3 makes the master give up instead of respawning it forever.
            Log.Critical($"Worker cannot boot: {e.Message}");
            return ControlChannel.BootErrorExitCode;
        }
        cycle.Start(app);
        await cycle.Stopping;
        await cycle.StopAsync();
        return 0;
    }

    /// <summary>Starts accepting on the master's sockets with <paramref name="app"/>, and then tells the master this worker is ready.</summary>
    public void Start(IHttpApp app)
    {
        // The sockets and the report are one worker's: a second app (a process that builds two hosts) has neither.
        if (_server != null) throw new InvalidOperationException("this worker already serves an app");
        if (Settings.HealthPath != null) app = _health = new HealthCheck(Settings.HealthPath, app);
        var server = _server = new WorkerServer(Settings, app) { Traffic = new WorkerTraffic(_metrics, _accessLog), Tls = _tls };
        // The master answers with Retire once a replacement is ready; until then this worker serves as before.
        _ = server.Retire.ContinueWith(_ => OnLoop(() => _channel.Send(ControlChannel.Retiring)));
        server.Start();
        OnLoop(() =>
        {
            _channel.Send(ControlChannel.Ready);
            // Once a second, on the loop itself: the Date header, connection deadlines, and the report that is the heartbeat,
            // which a loop held up by app code therefore does not send (nor a sync worker inside a request), so the
            // master's --timeout catches it.
            _loop.EverySecond(() =>
            {
                DateHeader.Refresh();
                bool inRequest = server.Sweep();
                if (server.StuckSinceLastTick()) return;
                var counters = _metrics.Snapshot();
                _channel.Send(counters.Format());
                _trim.Tick(counters.Accepted + counters.TotalRequests, inRequest);
            });
            _channel.Listen();
        });
    }

    /// <summary>
    /// Drains and sends the last report; once this completes the process may exit. It stops for the reason
    /// <see cref="Stopping"/> gave, or, called before that, for <paramref name="why"/>.
    /// </summary>
    public async Task StopAsync(string why = "its host is stopping")
    {
        _stop.TrySetResult(why);
        why = await Stopping;
        if (_server is not { } server) return;
        // An orphaned worker must not linger: without a master nobody would replace or stop it.
        var drainTime = why == MasterGone ? TimeSpan.FromSeconds(2) : Settings.GracefulTimeout;
        Log.Info($"Worker {Settings.Number} stopping ({why}), draining {server.OpenConnections} connection(s)");
        // Only when the whole server stops (or its master is gone) does a worker take what is still queued:
        // otherwise a sibling will.
        bool clean = await server.DrainAsync(drainTime, takeBacklog: why is ServerStopping or MasterGone);
        // The final report: everything served reaches the master's totals. It leaves from the loop like every report;
        // a loop still held by app code a tick after the drain ended cannot send it, and that worker loses its last
        // second of counts, as a SIGKILLed one does.
        var reported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        OnLoop(() =>
        {
            _channel.SendLast(_metrics.Snapshot().Format());
            reported.SetResult();
        });
        await Task.WhenAny(reported.Task, Task.Delay(TimeSpan.FromSeconds(1)));
        Log.Debug($"GC: {GC.CollectionCount(0)} gen0, {GC.CollectionCount(1)} gen1, {GC.CollectionCount(2)} gen2 collections; " +
                  $"{GC.GetTotalAllocatedBytes() / 1024} KiB allocated; peak working set {Environment.WorkingSet / 1024 / 1024} MB");
        Log.Info($"Worker exiting (pid {Environment.ProcessId}): served {server.RequestsServed} requests" +
                 (clean ? "" : $", {server.OpenConnections} connection(s) cut off at the deadline"));
    }

    private void OnCommand(string? command)
    {
        switch (command)
        {
            case null:
                _health?.ServerStopping();
                _stop.TrySetResult(MasterGone);
                break;
            case ControlChannel.Unready: _health?.ServerStopping(); break;
            case ControlChannel.Stop:
                _health?.ServerStopping();
                _stop.TrySetResult(ServerStopping);
                break;
            case ControlChannel.Retire:
                _stop.TrySetResult(_server?.Retire.IsCompleted == true ? "its --max-requests reached, replaced" : "retired by the master");
                break;
            case ControlChannel.Reopen:
                Log.Reopen();
                _accessLog?.Reopen();
                break;
        }
    }

    private void OnLoop(Action work) => _loop.Post(static w => ((Action)w!)(), work);

    // The loop hears of the master's death from its channel, but a loop held by app code hears nothing until the
    // app lets go, and nobody else would stop an orphan: a timer off the loop watches the parent.
    private static async Task<string> OrphanedAsync()
    {
        int master = Native.ParentPid;
        using var second = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (Native.ParentPid == master) await second.WaitForNextTickAsync();
        return MasterGone;
    }
}
