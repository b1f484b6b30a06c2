using System.Text;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// The parser's rules, seen from a client through the real master: every refusal is one response that says
/// "Connection: close", after which the server closes; the bytes that follow a framing error are never read
/// as a request.
/// </summary>
public class HardeningTests(SingleWorkerServer server, ITestOutputHelper output) : IClassFixture<SingleWorkerServer>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private int Port => server.Port;

    public static TheoryData<string, string, int> Refusals => new()
    {
        { "request line without version", "GET /hello\r\nHost: x\r\n\r\n", 400 },
        { "request line with two spaces", "GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "version with trailing garbage", "GET /hello HTTP/1.1x\r\nHost: x\r\n\r\n", 400 },
        { "lowercase version", "GET /hello http/1.1\r\nHost: x\r\n\r\n", 400 },
        { "space before colon", "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
        { "header without colon", "GET /hello HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400 },
        { "obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 400 },
        { "bare CR in a header", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400 },
        { "NUL in a header", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400 },
        { "negative Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
        { "Content-Length +5", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400 },
        { "Content-Length overflow", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400 },
        { "two different Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400 },
        { "two different Content-Length in one field", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", 400 },
        { "Content-Length with Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
        { "chunked not last", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400 },
        { "chunked twice", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
        { "invalid chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400 },
        { "negative chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400 },
        { "chunk data overruns its size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", 400 },
        { "HTTP/1.1 without Host", "GET /hello HTTP/1.1\r\n\r\n", 400 },
        { "two Host", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
        { "Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
        { "unknown transfer coding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501 },
        { "HTTP/2.0", "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
        { "Expect other than 100-continue", "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 5\r\n\r\nhello", 417 },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Refused_request_gets_one_response_with_close_and_then_end_of_stream(string rule, string request, int status)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(Encoding.Latin1.GetBytes(request));
        var r = await c.ReadResponseAsync(timeout: Bound);
        output.WriteLine($"{rule}: {r}");
        Assert.Equal(status, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        Assert.True(await c.IsClosedByServerAsync(Bound), $"{rule}: the server did not close the connection after {status}");
    }

    [Fact]
    public async Task Unknown_method_is_501_and_known_method_not_allowed_is_405_with_Allow()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("BREW /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        var brew = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(501, brew.Status);
        await c.SendAsync("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        var delete = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(405, delete.Status);
        Assert.Contains("GET", delete.Header("Allow") ?? "");
        Assert.Contains("HEAD", delete.Header("Allow") ?? "");
        // Neither is a framing error: the connection goes on.
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("Hello, World!", (await c.ReadResponseAsync(timeout: Bound)).BodyText);
    }

    public static TheoryData<string, string, int> Smuggles => new()
    {
        { "CL and TE", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
        { "TE and CL", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400 },
        { "two CL", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 42\r\n\r\n", 400 },
        { "chunked then gzip", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400 },
        { "chunked then identity", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501 },
        { "space before colon on TE", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400 },
        { "obs-folded TE", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400 },
        { "bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", 400 },
        { "chunk longer than its size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", 400 },
    };

    [Theory]
    [MemberData(nameof(Smuggles))]
    public async Task Bytes_after_a_framing_error_are_never_answered(string rule, string request, int status)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        // The smuggled request rides in the same write, right after the refused one.
        await c.SendAsync(request + "GET /worker HTTP/1.1\r\nHost: x\r\n\r\n");
        var r = await c.ReadResponseAsync(timeout: Bound);
        output.WriteLine($"{rule}: {r}");
        Assert.Equal(status, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        Assert.True(await c.IsClosedByServerAsync(Bound), $"{rule}: more bytes (a second response?) after the refusal, or no close");
    }

    [Fact]
    public async Task Valid_chunked_request_followed_by_a_pipelined_request_is_answered_twice()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" +
            "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        var first = await c.ReadResponseAsync(timeout: Bound);
        var second = await c.ReadResponseAsync(timeout: Bound);
        var third = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, first.Status);
        Assert.Equal("hello world", first.BodyText);
        Assert.Equal(200, second.Status);
        Assert.Equal("Hello, World!", second.BodyText);
        Assert.Equal("abc", third.BodyText);
        Assert.False(await c.HasDataWithinAsync(TimeSpan.FromMilliseconds(200)), "a response nobody asked for");
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/hello")]
    [InlineData("/worker")]
    [InlineData("/nope")]
    public async Task Head_never_has_a_body(string path)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var get = await GetOn(c, path);
        await c.SendAsync($"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        var head = await c.ReadResponseAsync(head: true, timeout: Bound);
        Assert.Equal(get.Status, head.Status);
        Assert.True(head.HasHeader("Content-Length") || head.HasHeader("Transfer-Encoding"), $"HEAD lost its framing headers: {head}");
        if (get.HasHeader("Content-Length") && path != "/worker")
            Assert.Equal(get.Header("Content-Length"), head.Header("Content-Length"));
        // Any body bytes sent for the HEAD would be read as the start of this response.
        var next = await GetOn(c, "/hello");
        Assert.Equal(200, next.Status);
        Assert.Equal("Hello, World!", next.BodyText);
        Assert.False(await c.HasDataWithinAsync(TimeSpan.FromMilliseconds(200)), "stray bytes after the responses");
    }

    [Fact]
    public async Task Pipelined_heads_get_no_bodies()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(string.Concat(Enumerable.Repeat("HEAD /worker HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 5))
                          + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        for (int i = 0; i < 10; i++) Assert.Equal(200, (await c.ReadResponseAsync(head: true, timeout: Bound)).Status);
        Assert.Equal("Hello, World!", (await c.ReadResponseAsync(timeout: Bound)).BodyText);
    }

    [Theory]
    [InlineData("http://localhost/hello", "Hello, World!")]
    [InlineData("HTTP://localhost:8080/hello?x=1", "Hello, World!")]
    [InlineData("http://localhost", "Hello, World!")]
    public async Task Absolute_form_target_is_served(string target, string body)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync($"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, r.Status);
        Assert.Equal(body, r.BodyText);
    }

    [Fact]
    public async Task Chunked_body_with_extensions_and_trailers_is_decoded_exactly()
    {
        var payload = new byte[300];
        new Random(7).NextBytes(payload);
        var body = new MemoryStream();
        void W(string s) => body.Write(Encoding.ASCII.GetBytes(s));
        W("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        W("1;a=b;c\r\n"); body.Write(payload, 0, 1); W("\r\n");
        W("0A ; name=\"quoted;value\"\r\n"); body.Write(payload, 1, 10); W("\r\n");
        W("00000000000000000000000000000000000000FF\r\n"); body.Write(payload, 11, 255); W("\r\n");
        W("22\r\n"); body.Write(payload, 266, 34); W("\r\n");
        W("0;last=yes\r\nX-Checksum: abc\r\nX-Other: d e f\r\n\r\n");
        W("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(body.ToArray());
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, r.Status);
        Assert.Equal(payload, r.Body);
        Assert.Equal("Hello, World!", (await c.ReadResponseAsync(timeout: Bound)).BodyText);
    }

    [Fact]
    public async Task Fifty_pipelined_requests_in_one_write_get_fifty_responses_in_order_then_one_more()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var batch = new StringBuilder();
        // Alternate paths so an answer out of order, lost or doubled shows.
        for (int i = 0; i < 50; i++) batch.Append(i % 5 == 4 ? $"GET /nope{i} HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        await c.SendAsync(batch.ToString());
        for (int i = 0; i < 50; i++)
        {
            var r = await c.ReadResponseAsync(timeout: Bound);
            Assert.Equal(i % 5 == 4 ? 404 : 200, r.Status);
            if (r.Status == 200) Assert.Equal("Hello, World!", r.BodyText);
        }
        Assert.False(await c.HasDataWithinAsync(TimeSpan.FromMilliseconds(200)), "more than 50 responses");
        await c.SendAsync("GET /worker HTTP/1.1\r\nHost: x\r\n\r\n");
        var last = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, last.Status);
        Assert.True(last.WorkerPid > 0);
    }

    private static async Task<RawResponse> GetOn(RawHttpConnection c, string path)
    {
        await c.SendAsync($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        return await c.ReadResponseAsync(timeout: Bound);
    }
}
