namespace Prefork.Tests.AspNetCore;

/// <summary>
/// Apps from the SDK's own templates that are their own master: a ProjectReference to src/Hosting and
/// builder.WebHost.UsePrefork() before builder.Build(), as the README says. Each builds with an obj and bin
/// of its own (kept from one run to the next), apart from src/*/obj, which dotnet build uses for the tests.
/// </summary>
public abstract class OwnMasterApp(string template, string name) : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("prefork-own-master-").FullName;

    protected string Artifacts { get; } = Path.Combine(AppContext.BaseDirectory, $"own-master-{name}");

    protected string Project => Path.Combine(_root, name);

    /// <summary>What to run: the app's assembly (with dotnet) or its native executable.</summary>
    public string Program { get; protected set; } = "";

    /// <summary>How long the build took, for the test log.</summary>
    public TimeSpan BuildTime { get; private set; }

    public async Task InitializeAsync()
    {
        var started = DateTime.UtcNow;
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(2), "new", template, "-o", Project, "-n", name, "--no-update-check");
        var csproj = Path.Combine(Project, name + ".csproj");
        var hosting = Path.Combine(DotnetCli.RepoRoot, "src", "Hosting", "Prefork.Hosting.csproj");
        await File.WriteAllTextAsync(csproj, (await File.ReadAllTextAsync(csproj)).Replace("</Project>",
            $"""<ItemGroup><ProjectReference Include="{hosting}" /></ItemGroup></Project>"""));
        var program = Path.Combine(Project, "Program.cs");
        await File.WriteAllTextAsync(program, (await File.ReadAllTextAsync(program)).Replace("var app = builder.Build();",
            $"builder.WebHost.{UsePrefork};\nvar app = builder.Build();\n" + Endpoints));
        await BuildAsync();
        BuildTime = DateTime.UtcNow - started;
    }

    /// <summary>The call, as the app's Program.cs makes it.</summary>
    protected virtual string UsePrefork => "UsePrefork()";

    /// <summary>Lines added after builder.Build().</summary>
    protected virtual string Endpoints => "";

    protected abstract Task BuildAsync();

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>
/// `dotnet new web`, built: run as `dotnet web.dll`. It says which process answered and in which environment. It
/// sets defaults for the master's flags in code: 3 workers, and a bind no command line of the tests may keep (a
/// documentation address, on no interface here).
/// </summary>
public sealed class OwnMasterJitApp() : OwnMasterApp("web", "jit")
{
    public const int DefaultWorkers = 3;

    protected override string UsePrefork => $"""UsePrefork("--workers", "{DefaultWorkers}", "--bind", "192.0.2.1:80")""";

    protected override string Endpoints => """
        app.MapGet("/pid", () => new { pid = Environment.ProcessId });
        app.MapGet("/environment", () => app.Environment.EnvironmentName);
        """;

    protected override async Task BuildAsync()
    {
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(10), "build", Project, "-c", "Release", "--artifacts-path", Artifacts, "--nologo", "-v", "quiet");
        Program = Directory.GetFiles(Path.Combine(Artifacts, "bin", "jit"), "jit.dll", SearchOption.AllDirectories).Single();
    }
}

/// <summary>`dotnet new webapiaot`, published NativeAOT: run as its native executable, which its workers are too.</summary>
public sealed class OwnMasterNativeApp() : OwnMasterApp("webapiaot", "native")
{
    protected override async Task BuildAsync()
    {
        var output = Path.Combine(Project, "published");
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(15), "publish", Project, "-c", "Release", "-o", output, "--artifacts-path", Artifacts, "--nologo", "-v", "quiet");
        Program = Path.Combine(output, "native");
    }
}
