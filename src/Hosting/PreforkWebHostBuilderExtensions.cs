using System.Reflection;
using System.Runtime.Versioning;
using Prefork.AspNetCore;
using Prefork.Control;
using Prefork.Master;

// Where UseKestrel lives, so the one line needs no using of its own.
namespace Microsoft.AspNetCore.Hosting;

/// <summary>
/// builder.WebHost.UsePrefork(): the app is its own Prefork master. Started by a person or a service manager, the
/// process is the master: it runs the master's main with the command line (--workers, --bind, every master flag;
/// the rest is the app's) and exits with its code, never building the app's host, so the master holds none of
/// the app's state (gunicorn without --preload). Each worker is the app's own program again, started by that
/// master with its settings in the environment: there the call puts Prefork's server and lifetime in the
/// host's services, in place of Kestrel's and the console's. Nothing is loaded by reflection, so it works
/// in a NativeAOT app, whose workers are the same native executable. The app may set the master's flags in code
/// (UsePrefork("--workers", "4")), as defaults its command line overrides flag by flag.
/// </summary>
public static class PreforkWebHostBuilderExtensions
{
    public static IWebHostBuilder UsePrefork(this IWebHostBuilder builder, params string[] defaults)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Prefork runs on Linux (its README: Windows)");
        return OnLinux(builder, defaults);
    }

    [SupportedOSPlatform("linux")]
    private static IWebHostBuilder OnLinux(IWebHostBuilder builder, string[] defaults)
    {
        // A test host (WebApplicationFactory) runs the app's Main inside the test process, naming the app with
        // --applicationName: that process is not the app's program, and must neither become a master nor exit.
        var application = builder.GetSetting(WebHostDefaults.ApplicationKey);
        if (application != null && application != Assembly.GetEntryAssembly()?.GetName().Name) return builder;
        if (Environment.GetEnvironmentVariable(WorkerSettings.EnvironmentVariable) == null)
        {
            var commandLine = Environment.GetCommandLineArgs();
            string program = Path.GetFileNameWithoutExtension(commandLine[0]);
            Environment.Exit(MasterProgram.RunSelfAsync(commandLine[1..], program, defaults).GetAwaiter().GetResult());
        }
        var cycle = AspNetCoreWorker.Boot();
        return builder.ConfigureServices(services => AspNetCoreWorker.AddServices(services, cycle));
    }
}
