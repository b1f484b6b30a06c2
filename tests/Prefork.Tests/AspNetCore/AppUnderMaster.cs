using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>The real master running an ASP.NET Core app (--app) in two workers, with a JSON access log on its stdout.</summary>
public static class AppUnderMaster
{
    /// <summary>An ASP.NET Core app starts in a second or so, on a busy machine in several.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Starts the master, with <paramref name="flags"/> after its own, and waits until both workers said ready.
    /// <paramref name="environment"/> is the workers' too.
    /// </summary>
    public static async Task<MasterProcess> StartAsync(string app, ITestOutputHelper output,
        IReadOnlyDictionary<string, string>? environment = null, params string[] flags)
    {
        var master = await MasterProcess.StartAsync(["--workers", "2", "--app", app, "--access-log", "-", "--access-log-format", "json", .. flags],
            output, environment: environment);
        try
        {
            await master.WaitForReadyAsync(2, Bound);
            return master;
        }
        catch
        {
            await master.DisposeAsync();
            throw;
        }
    }
}
