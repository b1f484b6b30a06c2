using Prefork.Control;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>--app takes both kinds of app; MasterConfig alone tells them apart, by the app's runtimeconfig.</summary>
public sealed class AppKindTests : IDisposable
{
    private const string AspNetCore = """{"runtimeOptions":{"tfm":"net10.0","framework":{"name":"Microsoft.AspNetCore.App","version":"10.0.0"}}}""";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("prefork-appkind-");

    /// <summary>An assembly file (never read here) and, when given, its runtimeconfig beside it.</summary>
    private string App(string? runtimeConfig)
    {
        var assembly = Path.Combine(_dir.FullName, "MyApp.dll");
        File.WriteAllText(assembly, "not an assembly: only its runtimeconfig is read");
        if (runtimeConfig != null) File.WriteAllText(Path.Combine(_dir.FullName, "MyApp.runtimeconfig.json"), runtimeConfig);
        return assembly;
    }

    [Theory]
    [InlineData(AspNetCore, AppKind.AspNetCore)]
    [InlineData("""{"runtimeOptions":{"frameworks":[{"name":"Microsoft.NETCore.App"},{"name":"Microsoft.AspNetCore.App"}]}}""", AppKind.AspNetCore)]
    [InlineData("""{"runtimeOptions":{"framework":{"name":"Microsoft.NETCore.App","version":"10.0.0"}}}""", AppKind.HttpApp)]
    [InlineData(null, AppKind.HttpApp)]
    public void The_runtimeconfig_says_which_kind(string? runtimeConfig, AppKind kind)
    {
        var (config, error) = MasterConfigTests.From("--app", App(runtimeConfig));
        Assert.Null(error);
        Assert.Equal(kind, config!.WorkerTemplate.AppKind);
    }

    [Fact]
    public void A_runtimeconfig_that_does_not_parse_is_refused()
    {
        var (_, error) = MasterConfigTests.From("--app", App("{ not json"));
        Assert.StartsWith($"--app: cannot read {_dir.FullName}/MyApp.runtimeconfig.json: ", error);
    }

    [Fact]
    public void An_aspnetcore_app_takes_no_type()
    {
        var (_, error) = MasterConfigTests.From("--app", App(AspNetCore) + ":MyApp.Program");
        Assert.Equal($"--app: {_dir.FullName}/MyApp.dll is an ASP.NET Core app, which runs as a whole: name no type (got ':MyApp.Program')", error);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
