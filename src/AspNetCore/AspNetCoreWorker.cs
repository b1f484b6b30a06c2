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
    public static void Install()
    {
        // The master reads reports on stdout, where the app's console log would go too: reports leave on a copy
        // of the pipe, and stdout becomes stderr, the log's place in every worker.
        int reportFd = Native.MoveStdoutToStderr();
        if (WorkerCycle.Boot(reportFd) is not { } cycle)
        {
            Environment.Exit(ControlChannel.BootErrorExitCode);
            return;
        }
        // Never disposed: every host the app builds, for the life of the process, gets the worker's server and lifetime.
        _ = HostInterception.AddServices(services =>
        {
            services.AddSingleton<IServer>(_ => new PreforkServer(new Transport(cycle)));
            services.AddSingleton<IHostLifetime>(provider => new Lifetime(cycle, provider.GetRequiredService<IHostApplicationLifetime>()));
        });
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
