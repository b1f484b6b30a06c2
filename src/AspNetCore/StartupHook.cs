using System.Runtime.CompilerServices;
using System.Runtime.Loader;

/// <summary>
/// Makes an unmodified ASP.NET Core app a Prefork worker. The master starts the app as `dotnet App.dll` with
/// DOTNET_STARTUP_HOOKS naming this assembly, and the runtime calls <see cref="Initialize"/> before the app's
/// Main: the runtime looks for this class by name, in the global namespace. Without the master's settings in
/// the environment it does nothing, so a hook variable that leaks into another .NET process changes nothing.
/// </summary>
public static class StartupHook
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(Prefork.Control.WorkerSettings.EnvironmentVariable) == null) return;
        // The app's deps.json lists none of Prefork's assemblies; the master ships them beside this one.
        var folder = Path.GetDirectoryName(typeof(StartupHook).Assembly.Location)!;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            var path = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(path) ? context.LoadFromAssemblyPath(path) : null;
        };
        BecomeWorker();
    }

    // A method of its own, compiled only once the resolver is in place: compiling it loads the assemblies it names.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void BecomeWorker() => Prefork.AspNetCore.AspNetCoreWorker.Install();
}
