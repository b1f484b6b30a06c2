using System.Diagnostics;

namespace Prefork.Control;

/// <summary>
/// The worker program, as the master finds it beside itself: the JIT build (Prefork.Worker.dll and its apphost, what dotnet build and
/// dotnet run make) or the NativeAOT one (a lone native Prefork.Worker, what dotnet publish makes). Windows would
/// start it the same way but hand it the sockets with Socket.DuplicateAndClose; see README.
/// </summary>
public static class WorkerExecutable
{
    private static readonly string Apphost = Path.Combine(AppContext.BaseDirectory, "Prefork.Worker");
    private static readonly string Assembly = Path.Combine(AppContext.BaseDirectory, "Prefork.Worker.dll");

    /// <summary>A NativeAOT worker has no JIT, so it cannot run a user's assembly (--app).</summary>
    public static bool IsNativeAot => !File.Exists(Assembly) && File.Exists(Apphost);

    public static void Configure(ProcessStartInfo start)
    {
        if (File.Exists(Apphost))
        {
            start.FileName = Apphost;
        }
        else
        {
            start.FileName = "dotnet";
            start.ArgumentList.Add(Assembly);
        }
    }
}
