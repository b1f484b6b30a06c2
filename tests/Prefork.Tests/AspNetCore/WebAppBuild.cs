namespace Prefork.Tests.AspNetCore;

/// <summary>
/// Apps made from the SDK's own `web` template and built once per test run, offline: the template and the
/// ASP.NET Core framework ship with the SDK, and the app has no package to restore. One as generated, one
/// whose Program.cs shows its host's lifecycle (and throws while it starts, when told to).
/// </summary>
public sealed class WebAppBuild : IAsyncLifetime
{
    public const string StartupFailure = "this app refuses to start (a Prefork test)";
    /// <summary>Set in its environment, <see cref="Lifecycle"/> throws <see cref="StartupFailure"/> once its host is built.</summary>
    public const string RefuseToStart = "PREFORK_TEST_REFUSE_TO_START";
    /// <summary>How long <see cref="Lifecycle"/>'s ApplicationStopping callback works before it says it is done.</summary>
    public static readonly TimeSpan StoppingWork = TimeSpan.FromMilliseconds(500);

    private readonly string _root = Directory.CreateTempSubdirectory("prefork-webapp-").FullName;

    /// <summary>The template's app, untouched: GET / answers "Hello World!".</summary>
    public string Hello { get; private set; } = "";

    /// <summary>
    /// The template's app with its own Program.cs: GET /hello ("Hello from PID"), GET /worker ({"pid":PID}),
    /// GET /sleep?ms=N (logs "sleep started (pid PID)" first), GET /client ("ADDRESS PORT SCHEME" of HttpContext, and
    /// its ILogger's line "client ADDRESS"). Its ApplicationStopping callback works for
    /// <see cref="StoppingWork"/> and then logs "ApplicationStopping done (pid PID)"; ApplicationStopped logs
    /// "ApplicationStopped (pid PID)". Its logs are its stderr, which is the master's.
    /// </summary>
    public string Lifecycle { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await Task.WhenAll(
            TemplateApp.NewAsync(_root, "hello", ["web"]),
            TemplateApp.NewAsync(_root, "lifecycle", ["web"], dir => TemplateApp.Write(dir, "Program.cs", $$"""
                var builder = WebApplication.CreateBuilder(args);
                var app = builder.Build();
                if (Environment.GetEnvironmentVariable("{{RefuseToStart}}") != null) throw new InvalidOperationException("{{StartupFailure}}");
                int pid = Environment.ProcessId;
                app.Lifetime.ApplicationStopping.Register(() =>
                {
                    // An app's own work as it stops (background work told to end, a queue flushed): the worker waits for it.
                    Thread.Sleep({{(int)StoppingWork.TotalMilliseconds}});
                    Console.Error.WriteLine($"ApplicationStopping done (pid {pid})");
                });
                app.Lifetime.ApplicationStopped.Register(() => Console.Error.WriteLine($"ApplicationStopped (pid {pid})"));
                app.MapGet("/hello", () => $"Hello from {pid}");
                app.MapGet("/worker", () => Results.Json(new { pid }));
                app.MapGet("/client", (HttpContext c, ILogger<Program> log) =>
                {
                    log.LogWarning("client {Address}", c.Connection.RemoteIpAddress);
                    return $"{c.Connection.RemoteIpAddress} {c.Connection.RemotePort} {c.Request.Scheme}";
                });
                app.MapGet("/sleep", async (int ms) =>
                {
                    Console.Error.WriteLine($"sleep started (pid {pid})");
                    await Task.Delay(ms);
                    return $"slept {ms} ms (pid {pid})";
                });
                app.Run();
                """)));
        var built = await TemplateApp.BuildAsync(_root, "hello", "lifecycle");
        (Hello, Lifecycle) = (built[0], built[1]);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The test classes that run the built apps share one build.</summary>
[CollectionDefinition(BuildsFirst.WebAppBuild)]
public sealed class WebAppCollection : ICollectionFixture<WebAppBuild>;
