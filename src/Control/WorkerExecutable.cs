using System.Diagnostics;

namespace Prefork.Control;

/// <summary>
/// How the master starts a worker: the worker program as the master finds it beside itself, the JIT build
/// (Prefork.Worker.dll and its apphost, what dotnet build and dotnet run make) or the NativeAOT one (a lone native
/// Prefork.Worker, what dotnet publish makes); or an ASP.NET Core app, which is its own worker; or the master's own
/// program again, when an app is its own master. Windows would
/// start them the same way but hand them the sockets with Socket.DuplicateAndClose; see README.
/// </summary>
public static class WorkerExecutable
{
    private static readonly string Apphost = Path.Combine(AppContext.BaseDirectory, "Prefork.Worker");
    private static readonly string Assembly = Path.Combine(AppContext.BaseDirectory, "Prefork.Worker.dll");

    private const string StartupHooks = "DOTNET_STARTUP_HOOKS";

    /// <summary>The startup hook that makes an ASP.NET Core app's own process a worker (Prefork.AspNetCore's StartupHook).</summary>
    public static readonly string AspNetCoreHook = Path.Combine(AppContext.BaseDirectory, "Prefork.AspNetCore.dll");

    /// <summary>A NativeAOT worker has no JIT, so it cannot run a user's assembly (--app).</summary>
    public static bool IsNativeAot => !File.Exists(Assembly) && File.Exists(Apphost);

    public static void Configure(ProcessStartInfo start, WorkerSettings settings)
    {
        if (settings.AppKind == AppKind.AspNetCore)
        {
            // The app runs as itself, `dotnet App.dll`, with its own runtimeconfig and deps and, from its own folder,
            // its content root (appsettings.json, wwwroot) as under Kestrel, unless ASPNETCORE_CONTENTROOT says otherwise.
            start.FileName = "dotnet";
            start.ArgumentList.Add(settings.AppAssembly!);
            start.WorkingDirectory = Path.GetDirectoryName(settings.AppAssembly)!;
            // Hooks of the operator's own run too, before ours.
            start.Environment[StartupHooks] = Environment.GetEnvironmentVariable(StartupHooks) is { Length: > 0 } hooks
                ? hooks + Path.PathSeparator + AspNetCoreHook
                : AspNetCoreHook;
        }
        else if (settings.AppKind == AppKind.Self)
        {
            ThisProgram(start);
            foreach (var arg in settings.AppArguments) start.ArgumentList.Add(arg);
        }
        else if (File.Exists(Apphost))
        {
            start.FileName = Apphost;
        }
        else
        {
            start.FileName = "dotnet";
            start.ArgumentList.Add(Assembly);
        }
    }

    /// <summary>
    /// Starts this process's own program again, to which the caller adds the arguments: the executable, native or
    /// apphost, or under the dotnet host the host with the entry assembly, which is then the first command-line
    /// argument (a NativeAOT program has no assembly file to name).
    /// </summary>
    public static void ThisProgram(ProcessStartInfo start)
    {
        start.FileName = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet") start.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
    }
}
