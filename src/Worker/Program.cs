using Prefork.App;
using Prefork.Serving;
using Prefork.Worker.Apps;
using Prefork.Worker.Static;

// A worker is started by the master, never by hand: it inherits the listening sockets and its settings, and
// WorkerCycle runs its life around the app: the demo app or the user's (--app), behind the static files (--root).
return await WorkerCycle.RunAsync(cycle =>
{
    var settings = cycle.Settings;
    IHttpApp app = settings.AppAssembly == null ? new DemoApp(settings, () => cycle.RequestsServed)
        : AppLoader.Load(settings.AppAssembly, settings.AppType);
    return settings.StaticRoot == null ? app : new StaticThenApp(new StaticFiles(settings.StaticRoot, settings.StaticPrefix), app);
});
