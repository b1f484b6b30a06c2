using Prefork.Worker.Static;

namespace Prefork.Tests.Content;

/// <summary>The static handler called directly: types, directories, methods and conditional requests.</summary>
public sealed class StaticFilesTests : IClassFixture<ContentTree>
{
    private readonly ContentTree _tree;
    private readonly StaticFiles _files;

    public StaticFilesTests(ContentTree tree)
    {
        _tree = tree;
        _files = new StaticFiles(tree.Root);
    }

    [Theory]
    [InlineData("index.html", "text/html; charset=utf-8")]
    [InlineData("a/b/site.CSS", "text/css; charset=utf-8")]
    [InlineData("app.mjs", "text/javascript; charset=utf-8")]
    [InlineData("data.json", "application/json")]
    [InlineData("logo.svg", "image/svg+xml")]
    [InlineData("photo.JPEG", "image/jpeg")]
    [InlineData("font.woff2", "font/woff2")]
    [InlineData("module.wasm", "application/wasm")]
    [InlineData("clip.webm", "video/webm")]
    [InlineData("notes.md", "text/markdown; charset=utf-8")]
    [InlineData("backup.tar", "application/x-tar")]
    [InlineData("Makefile", "application/octet-stream")]
    [InlineData("blob.unknownext", "application/octet-stream")]
    public void Content_type_from_the_extension(string name, string type) => Assert.Equal(type, MimeTypes.For(name));

    [Fact]
    public async Task A_file_comes_with_its_validators_and_length()
    {
        var response = await DirectCall.RunAsync(_files, "GET", "/site.css");
        Assert.Equal((200, "text/css; charset=utf-8", "22", "bytes"),
            (response.Status, response.Header("Content-Type"), response.Header("Content-Length"), response.Header("Accept-Ranges")));
        Assert.Matches("^\"[0-9a-f]+-[0-9a-f]+\"$", response.Header("ETag"));
        var modified = File.GetLastWriteTimeUtc(Path.Combine(_tree.Root, "site.css"));
        Assert.Equal(modified.ToString("r"), response.Header("Last-Modified"));
    }

    [Fact]
    public async Task A_directory_serves_its_index_and_is_addressed_with_a_slash()
    {
        Assert.Equal("<h1>home</h1>\n", (await DirectCall.RunAsync(_files, "GET", "/")).Text);
        Assert.Equal("<h1>docs</h1>\n", (await DirectCall.RunAsync(_files, "GET", "/docs/")).Text);
        var redirect = await DirectCall.RunAsync(_files, "GET", "/docs?x=1");
        Assert.Equal((301, "/docs/?x=1"), (redirect.Status, redirect.Header("Location")));
        Assert.Equal(404, (await DirectCall.RunAsync(_files, "GET", "/empty/")).Status);
    }

    [Fact]
    public async Task Under_a_prefix_only_the_prefix_is_served()
    {
        var files = new StaticFiles(_tree.Root, "/static");
        Assert.Equal(ContentTree.Digits, (await DirectCall.RunAsync(files, "GET", "/static/digits.txt")).Text);
        Assert.Equal(404, (await DirectCall.RunAsync(files, "GET", "/digits.txt")).Status);
        Assert.Equal(404, (await DirectCall.RunAsync(files, "GET", "/staticdigits.txt")).Status);
        Assert.Equal("/static/", (await DirectCall.RunAsync(files, "GET", "/static")).Header("Location"));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public async Task Other_methods_get_405_with_allow(string method)
    {
        var response = await DirectCall.RunAsync(_files, method, "/digits.txt");
        Assert.Equal((405, "GET, HEAD"), (response.Status, response.Header("Allow")));
    }

    [Fact]
    public async Task Conditional_get_answers_304_with_the_validators_and_no_body()
    {
        var first = await DirectCall.RunAsync(_files, "GET", "/digits.txt");
        string etag = first.Header("ETag")!, date = first.Header("Last-Modified")!;

        async Task<RawResponse> With(params string[] headers) => await DirectCall.RunAsync(_files, "GET", "/digits.txt", headers);

        foreach (var ifNoneMatch in new[] { etag, "W/" + etag, "*", $"\"a\", {etag}", $"\"x,y\",W/{etag}" })
        {
            var response = await With("If-None-Match: " + ifNoneMatch);
            Assert.True(response.Status == 304, $"If-None-Match: {ifNoneMatch} gave {response.Status}");
            Assert.Equal((etag, date, 0), (response.Header("ETag"), response.Header("Last-Modified"), response.Body.Length));
            Assert.Null(response.Header("Content-Type"));
        }
        Assert.Equal(200, (await With("If-None-Match: \"other\"")).Status);
        Assert.Equal(304, (await With("If-Modified-Since: " + date)).Status);
        Assert.Equal(304, (await With("If-Modified-Since: " + DateTime.UtcNow.AddDays(1).ToString("r"))).Status);
        Assert.Equal(200, (await With("If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT")).Status);
        Assert.Equal(200, (await With("If-Modified-Since: garbage")).Status);
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
        Assert.Equal(200, (await With("If-None-Match: \"other\"", "If-Modified-Since: " + date)).Status);
    }

    [Fact]
    public async Task A_failed_precondition_answers_412()
    {
        var first = await DirectCall.RunAsync(_files, "GET", "/digits.txt");
        string etag = first.Header("ETag")!, date = first.Header("Last-Modified")!;

        async Task<int> With(params string[] headers) => (await DirectCall.RunAsync(_files, "GET", "/digits.txt", headers)).Status;

        // If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches; "*" matches any file there is.
        foreach (var ifMatch in new[] { etag, "*", $"\"a\", {etag}", $"\"x,y\", {etag}" })
            Assert.True(await With("If-Match: " + ifMatch) == 200, $"If-Match: {ifMatch}");
        foreach (var ifMatch in new[] { "\"other\"", "W/" + etag, "\"a\", W/" + etag })
            Assert.True(await With("If-Match: " + ifMatch) == 412, $"If-Match: {ifMatch}");

        Assert.Equal(200, await With("If-Unmodified-Since: " + date));
        Assert.Equal(200, await With("If-Unmodified-Since: " + DateTime.UtcNow.AddDays(1).ToString("r")));
        Assert.Equal(412, await With("If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT"));
        Assert.Equal(200, await With("If-Unmodified-Since: garbage"));
        // If-Match wins over If-Unmodified-Since (§13.1.4), and both are judged before If-None-Match (§13.2.2).
        Assert.Equal(200, await With("If-Match: " + etag, "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT"));
        Assert.Equal(412, await With("If-Match: \"other\"", "If-None-Match: " + etag));
        Assert.Equal(304, await With("If-Match: " + etag, "If-None-Match: " + etag));
    }

    [Theory]
    [InlineData("/digits.txt/")]
    [InlineData("/digits.txt/.")]
    [InlineData("/digits.txt//")]
    [InlineData("/docs/a%20b.txt/")]
    [InlineData("/absolute-alias.txt/")]
    public async Task A_file_named_as_a_directory_is_not_found(string target) =>
        Assert.Equal(404, (await DirectCall.RunAsync(_files, "GET", target)).Status);
}
