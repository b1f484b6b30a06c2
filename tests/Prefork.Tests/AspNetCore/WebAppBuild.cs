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
        Hello = await NewAppAsync("hello", program: null);
        Broken = await NewAppAsync("broken", $$"""
            var builder = WebApplication.CreateBuilder(args);
            var app = builder.Build();
            throw new InvalidOperationException("{{StartupFailure}}");
            """);
    }

    /// <summary>dotnet new web, Program.cs replaced when given, dotnet build; returns the app's assembly.</summary>
    private async Task<string> NewAppAsync(string name, string? program)
    {
        var dir = Path.Combine(_root, name);
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(2), "new", "web", "-o", dir, "-n", name, "--no-update-check");
        if (program != null) await File.WriteAllTextAsync(Path.Combine(dir, "Program.cs"), program);
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(3), "build", dir, "-c", "Release", "--nologo", "-v", "quiet");
        // bin/Release/<the SDK's target framework>/NAME.dll
        return Directory.GetFiles(Path.Combine(dir, "bin", "Release"), name + ".dll", SearchOption.AllDirectories).Single();
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }
}
