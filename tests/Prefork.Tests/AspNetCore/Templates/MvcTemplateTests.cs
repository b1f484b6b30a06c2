using System.IO.Compression;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// The MVC template's app under the real master, two workers: the Home view rendered through its layout, and
/// wwwroot served by MapStaticAssets with its type, its validator and a 304 for a conditional GET, the bytes
/// on disk whole (a 230 KB stylesheet too), the precompressed copy when asked. In Development, as `dotnet run`
/// runs it: a build's output serves wwwroot only there, under Kestrel too (a deployment is the publish output).
/// </summary>
[Collection(BuildsFirst.TemplateBuilds)]
public sealed partial class MvcTemplateTests(TemplateApps apps, ITestOutputHelper output)
{
    private Task<MasterProcess> StartAsync() =>
        AppUnderMaster.StartAsync(apps.Mvc, output, new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Development" });

    [Fact]
    public async Task The_home_view_renders_in_its_layout()
    {
        await using var master = await StartAsync();
        var home = await RawHttpConnection.RequestAsync(master.Port, "GET", "/");
        Assert.True(home.Status == 200, home.ToString());
        Assert.Equal(("Prefork", "text/html; charset=utf-8"), (home.Header("Server"), home.Header("Content-Type")));
        Assert.Contains("<title>Home Page - mvc</title>", home.BodyText);
        Assert.Contains("""<h1 class="display-4">Welcome</h1>""", home.BodyText);
        // asp-append-version found the file in wwwroot: the app's content root is its own folder.
        Assert.Matches(VersionedCssRegex(), home.BodyText);
    }

    [Fact]
    public async Task A_static_file_comes_with_its_type_and_etag_and_a_conditional_get_is_304()
    {
        await using var master = await StartAsync();
        var css = await RawHttpConnection.RequestAsync(master.Port, "GET", "/css/site.css");
        Assert.True(css.Status == 200, css.ToString());
        Assert.Equal(("Prefork", "text/css"), (css.Header("Server"), css.Header("Content-Type")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(apps.MvcWebRoot, "css", "site.css")), css.Body);
        var etag = css.Header("ETag");
        Assert.False(string.IsNullOrEmpty(etag), css.ToString());

        var again = await RawHttpConnection.RequestAsync(master.Port, "GET", "/css/site.css", "", $"If-None-Match: {etag}");
        Assert.True(again.Status == 304, again.ToString());
        Assert.Equal(etag, again.Header("ETag"));
        Assert.Empty(again.Body);

        var gzip = await RawHttpConnection.RequestAsync(master.Port, "GET", "/css/site.css", "", "Accept-Encoding: gzip");
        Assert.Equal((200, "gzip"), (gzip.Status, gzip.Header("Content-Encoding")));
        using var gunzip = new GZipStream(new MemoryStream(gzip.Body), CompressionMode.Decompress);
        var unzipped = new MemoryStream();
        gunzip.CopyTo(unzipped);
        Assert.Equal(css.Body, unzipped.ToArray());

        const string bootstrap = "lib/bootstrap/dist/css/bootstrap.min.css";
        var large = await RawHttpConnection.RequestAsync(master.Port, "GET", "/" + bootstrap);
        Assert.Equal((200, "text/css"), (large.Status, large.Header("Content-Type")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(apps.MvcWebRoot, bootstrap)), large.Body);
    }

    [GeneratedRegex("href=\"/css/site\\.css\\?v=[\\w-]+\"")]
    private static partial Regex VersionedCssRegex();
}
