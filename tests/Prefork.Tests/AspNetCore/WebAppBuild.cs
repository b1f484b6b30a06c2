namespace Prefork.Tests.AspNetCore;

/// <summary>
/// Apps made from the SDK's own `web` template and built once per test run, offline: the template and the
/// ASP.NET Core framework ship with the SDK, and the app has no package to restore. One as generated, one
/// whose Program.cs throws while the app starts.
/// </summary>
public sealed class WebAppBuild : IAsyncLifetime
{
    public const string StartupFailure = "this app refuses to start (a Prefork test)";

    private readonly string _root = Directory.CreateTempSubdirectory("prefork-webapp-").FullName;

    /// <summary>The template's app, untouched: GET / answers "Hello World!".</summary>
    public string Hello { get; private set; } = "";

    /// <summary>The template's app with a Program.cs that throws <see cref="StartupFailure"/> once its host is built.</summary>
    public string Broken { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await Task.WhenAll(
            TemplateApp.NewAsync(_root, "hello", ["web"]),
            TemplateApp.NewAsync(_root, "broken", ["web"], dir => TemplateApp.Write(dir, "Program.cs", $$"""
                var builder = WebApplication.CreateBuilder(args);
                var app = builder.Build();
                throw new InvalidOperationException("{{StartupFailure}}");
                """)));
        var built = await TemplateApp.BuildAsync(_root, "hello", "broken");
        (Hello, Broken) = (built[0], built[1]);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }
}
