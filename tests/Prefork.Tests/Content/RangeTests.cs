using Prefork.Worker.Static;

namespace Prefork.Tests.Content;

/// <summary>Range requests on a 20-byte file, "0123456789abcdefghij" (RFC 9110 §14).</summary>
public sealed class RangeTests : IClassFixture<ContentTree>
{
    private readonly ContentTree _tree;

    public RangeTests(ContentTree tree) => _tree = tree;

    public static TheoryData<string, int, string?, string> Ranges => new()
    {
        // Range header         status  Content-Range          body
        { "bytes=0-4",           206, "bytes 0-4/20",   "01234" },
        { "bytes=5-",            206, "bytes 5-19/20",  "56789abcdefghij" },
        { "bytes=-3",            206, "bytes 17-19/20", "hij" },
        { "bytes=-50",           206, "bytes 0-19/20",  ContentTree.Digits },
        { "bytes=10-100",        206, "bytes 10-19/20", "abcdefghij" },
        { "bytes=19-19",         206, "bytes 19-19/20", "j" },
        { "bytes=0-0",           206, "bytes 0-0/20",   "0" },
        { "BYTES=1-2",           206, "bytes 1-2/20",   "12" },
        { "bytes= 1-2 ",         206, "bytes 1-2/20",   "12" },
        { "bytes=1-2,",          206, "bytes 1-2/20",   "12" },
        { "bytes=0-99999999999999999999", 206, "bytes 0-19/20", ContentTree.Digits },
        { "bytes=20-",           416, "bytes */20",     "416 Range Not Satisfiable\n" },
        { "bytes=20-30",         416, "bytes */20",     "416 Range Not Satisfiable\n" },
        { "bytes=-0",            416, "bytes */20",     "416 Range Not Satisfiable\n" },
        { "bytes=99999999999999999999-", 416, "bytes */20", "416 Range Not Satisfiable\n" },
        // Several ranges: the whole file with 200 (no multipart/byteranges).
        { "bytes=0-1,5-6",       200, null,             ContentTree.Digits },
        { "bytes=0-1, -2",       200, null,             ContentTree.Digits },
        // Not a valid range: ignored.
        { "bytes=5-2",           200, null,             ContentTree.Digits },
        { "bytes=abc",           200, null,             ContentTree.Digits },
        { "bytes=1",             200, null,             ContentTree.Digits },
        { "bytes=-",             200, null,             ContentTree.Digits },
        { "bytes=+1-2",          200, null,             ContentTree.Digits },
        { "items=0-1",           200, null,             ContentTree.Digits },
        { "bytes 0-1",           200, null,             ContentTree.Digits },
    };

    [Theory]
    [MemberData(nameof(Ranges))]
    public async Task Range_header(string range, int status, string? contentRange, string body)
    {
        var response = await DirectCall.RunAsync(new StaticFiles(_tree.Root), "GET", "/digits.txt", "Range: " + range);
        Assert.Equal(status, response.Status);
        Assert.Equal(contentRange, response.Header("Content-Range"));
        Assert.Equal(body, response.Text);
        if (status != 416) Assert.Equal(body.Length.ToString(), response.Header("Content-Length"));
    }

    [Fact]
    public async Task If_range_with_the_current_validator_gets_the_range_and_any_other_the_whole_file()
    {
        var files = new StaticFiles(_tree.Root);
        var whole = await DirectCall.RunAsync(files, "GET", "/digits.txt");
        string etag = whole.Header("ETag")!, date = whole.Header("Last-Modified")!;

        async Task<int> With(string ifRange) =>
            (await DirectCall.RunAsync(files, "GET", "/digits.txt", "Range: bytes=0-1", "If-Range: " + ifRange)).Status;

        Assert.Equal(206, await With(etag));
        Assert.Equal(206, await With(date));
        Assert.Equal(200, await With("W/" + etag));      // If-Range needs a strong match
        Assert.Equal(200, await With("\"other\""));
        Assert.Equal(200, await With("Sat, 01 Jan 2000 00:00:00 GMT"));
        Assert.Equal(200, await With("not a date"));
    }

    [Fact]
    public async Task Ranges_through_the_real_server_use_sendfile_and_keep_the_connection_framed()
    {
        await using var server = await ContentServer.StartAsync(1, "--root", _tree.Root);
        foreach (var row in Ranges)
        {
            var (range, status, contentRange, body) = ((string)row[0], (int)row[1], (string?)row[2], (string)row[3]);
            var response = await server.SendAsync("GET", "/digits.txt", "Range: " + range);
            Assert.True(status == response.Status, $"{range}: {response.Status}, expected {status}");
            Assert.Equal(contentRange, response.Header("Content-Range"));
            Assert.Equal(body, response.Text);
            Assert.Equal(body.Length.ToString(), response.Header("Content-Length"));
        }
        var head = await server.SendAsync("HEAD", "/digits.txt", "Range: bytes=2-5");
        Assert.Equal((206, "4", "bytes 2-5/20", 0), (head.Status, head.Header("Content-Length"), head.Header("Content-Range"), head.Body.Length));
    }
}
