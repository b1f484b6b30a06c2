using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Prefork.App;
using Prefork.Control;
using Prefork.Serving;

namespace Prefork.AspNetCore;

/// <summary>
/// An ASP.NET Core app's process as a worker: the worker's cycle (<see cref="WorkerCycle"/>) with the app's
/// host in the middle. The host's server is <see cref="PreforkServer"/> on the master's sockets; the worker is
/// ready once the host has built the app's pipeline and started the server, so an app that throws while it
/// starts never is, and the master's crash-loop guard takes over. A stop from the master (or TERM, or the
/// master's death) stops the host, whose ApplicationStopping runs first; the server's stop is the worker's
/// drain; then the app's Main returns and the process exits.
/// </summary>
internal static class AspNetCoreWorker
{
    private static WorkerCycle? _cycle;

    /// <summary>The startup hook's way in: every host the app builds, for the life of the process, gets the worker's server and lifetime.</summary>
    public static void Install()
    {
        var cycle = Boot();
        // Never disposed: a host built at any time is one more the worker serves through.
        _ = HostInterception.AddServices(services => AddServices(services, cycle));
    }

    /// <summary>
    /// Starts the worker's life in this process, once: an app that calls UsePrefork and is run by a master with
    /// --app (so also has the hook) boots one cycle. A worker that cannot boot exits here, with the code that
    /// tells the master not to retry.
    /// </summary>
    public static WorkerCycle Boot()
    {
        if (_cycle != null) return _cycle;
        // The master reads reports on stdout, where the app's console log would go too: reports leave on a copy
        // of the pipe, and stdout becomes stderr, the log's place in every worker.
        int reportFd = Native.MoveStdoutToStderr();
        _cycle = WorkerCycle.Boot(reportFd);
        if (_cycle == null) Environment.Exit(ControlChannel.BootErrorExitCode);
        return _cycle!;
    }

    /// <summary>The worker's server and lifetime, registered after the host's own (Kestrel, the console lifetime), so in their place.</summary>
    public static void AddServices(IServiceCollection services, WorkerCycle cycle)
    {
        services.AddSingleton<IServer>(_ => new PreforkServer(new Transport(cycle)));
        services.AddSingleton<IHostLifetime>(provider => new Lifetime(cycle, provider.GetRequiredService<IHostApplicationLifetime>()));
    }

    /// <summary>The worker's accept thread and drain, on the sockets the master handed over.</summary>
    private sealed class Transport(WorkerCycle cycle) : IServerTransport
    {
        public IReadOnlyList<string> Addresses => cycle.Settings.ListenUrls;
        public void Start(IHttpApp app) => cycle.Start(app);

        // Bounded by --graceful-timeout, which the master enforces too; the host waits for the drain, its own
        // shutdown timeout notwithstanding, as a worker's requests in flight are finished, not dropped.
        public Task StopAsync(CancellationToken cancellationToken) => cycle.StopAsync();
    }

    /// <summary>
    /// The host stops when the worker's cycle says so. In place of the console lifetime, which stops the app
    /// on INT, TERM and QUIT by itself: in a worker those are the cycle's (INT is the master's to act on).
    /// </summary>
    private sealed class Lifetime(WorkerCycle cycle, IHostApplicationLifetime application) : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken)
        {
            _ = cycle.Stopping.ContinueWith(_ => application.StopApplication(), TaskScheduler.Default);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
