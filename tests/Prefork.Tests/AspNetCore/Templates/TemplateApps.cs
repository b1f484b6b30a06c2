namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// The apps of the SDK's other web templates (minimal API, API controllers, Razor Pages, MVC), made and built
/// once per test run, together, for every test class of <see cref="BuildsFirst.TemplateBuilds"/>.
/// </summary>
public sealed class TemplateApps : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("prefork-templates-").FullName;

    public string WebApi { get; private set; } = "";
    public string Controllers { get; private set; } = "";
    public string RazorPages { get; private set; } = "";
    public string Mvc { get; private set; } = "";

    /// <summary>The MVC app's wwwroot (in its project: a build's output serves it from there, in Development).</summary>
    public string MvcWebRoot => Path.Combine(_root, "mvc", "wwwroot");

    public async Task InitializeAsync()
    {
        await Task.WhenAll(
            TemplateApp.NewAsync(_root, "webapi", WebApiApp.Template, WebApiApp.Edit),
            TemplateApp.NewAsync(_root, "controllers", ControllersApp.Template, ControllersApp.Edit),
            TemplateApp.NewAsync(_root, "razor", RazorPagesApp.Template, RazorPagesApp.Edit),
            TemplateApp.NewAsync(_root, "mvc", ["mvc"]));
        var built = await TemplateApp.BuildAsync(_root, "webapi", "controllers", "razor", "mvc");
        (WebApi, Controllers, RazorPages, Mvc) = (built[0], built[1], built[2], built[3]);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>
/// One build serves the four classes; they run one after another, while the rest of the suite runs beside
/// them (each test starts its own master: two app processes).
/// </summary>
[CollectionDefinition(BuildsFirst.TemplateBuilds)]
public sealed class TemplateBuildsCollection : ICollectionFixture<TemplateApps>;
