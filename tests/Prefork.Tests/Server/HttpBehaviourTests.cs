using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>One async master with one worker, shared by the HTTP behaviour tests (they each open their own connections).</summary>
public sealed class SingleWorkerServer : IAsyncLifetime
{
    public MasterProcess Master { get; private set; } = null!;
    public int Port => Master.Port;

    public async Task InitializeAsync() => Master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "async"]);

    public async Task DisposeAsync() => await Master.DisposeAsync();
}

/// <summary>HTTP/1.1 over real sockets, byte for byte.</summary>
public class HttpBehaviourTests(SingleWorkerServer server, ITestOutputHelper output) : IClassFixture<SingleWorkerServer>
{
    private int Port => server.Port;

    private static void AssertStandardHeaders(RawResponse r)
    {
        Assert.True(r.HasHeader("Date"), $"no Date header: {r}");
        Assert.True(DateTimeOffset.TryParse(r.Header("Date"), out _), $"bad Date header: {r.Header("Date")}");
        Assert.True(r.HasHeader("Server"), $"no Server header: {r}");
    }

    [Fact]
    public async Task Keep_alive_serves_two_requests_on_one_connection()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var first = await c.ReadResponseAsync();
        await c.SendAsync("GET /worker HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var second = await c.ReadResponseAsync();
        Assert.Equal(200, first.Status);
        Assert.Equal("Hello, World!", first.BodyText);
        Assert.Equal(200, second.Status);
        Assert.NotEqual("close", second.Header("Connection"));
        AssertStandardHeaders(first);
        AssertStandardHeaders(second);
    }

    [Fact]
    public async Task Pipelined_requests_get_responses_in_order()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(
            "GET /sleep?ms=300 HTTP/1.1\r\nHost: localhost\r\n\r\n" +
            "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n" +
            "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var first = await c.ReadResponseAsync();
        var second = await c.ReadResponseAsync();
        var third = await c.ReadResponseAsync();
        Assert.StartsWith("slept 300 ms", first.BodyText);
        Assert.Equal("Hello, World!", second.BodyText);
        Assert.Equal(404, third.Status);
    }

    [Fact]
    public async Task Http10_closes_unless_keep_alive()
    {
        await using (var c = await RawHttpConnection.ConnectAsync(Port))
        {
            await c.SendAsync("GET /hello HTTP/1.0\r\n\r\n");
            var r = await c.ReadResponseAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal("Hello, World!", r.BodyText);
            Assert.True(await c.IsClosedByServerAsync(), "HTTP/1.0 without keep-alive must be closed by the server");
        }
        await using (var c = await RawHttpConnection.ConnectAsync(Port))
        {
            await c.SendAsync("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            var r = await c.ReadResponseAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal("keep-alive", r.Header("Connection"), ignoreCase: true);
            await c.SendAsync("GET /hello HTTP/1.0\r\n\r\n");
            var again = await c.ReadResponseAsync();
            Assert.Equal("Hello, World!", again.BodyText);
            Assert.True(await c.IsClosedByServerAsync());
        }
    }

    [Fact]
    public async Task Head_has_content_length_but_no_body()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var r = await c.ReadResponseAsync(head: true);
        Assert.Equal(200, r.Status);
        Assert.Equal("13", r.Header("Content-Length"));
        AssertStandardHeaders(r);
        // The next response must start right where the head ended: a body sent for HEAD would show up here.
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var next = await c.ReadResponseAsync();
        Assert.Equal(200, next.Status);
        Assert.Equal("Hello, World!", next.BodyText);
    }

    [Fact]
    public async Task Chunked_post_to_echo_is_decoded_exactly()
    {
        var payload = new byte[5000];
        new Random(42).NextBytes(payload);
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var body = new MemoryStream();
        void W(string s) => body.Write(Encoding.ASCII.GetBytes(s));
        W("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        W("a;ext=1\r\n"); body.Write(payload, 0, 10); W("\r\n");
        W($"{payload.Length - 10:X}\r\n"); body.Write(payload, 10, payload.Length - 10); W("\r\n");
        W("0\r\nX-Trailer: yes\r\n\r\n");
        var bytes = body.ToArray();
        // Sent in awkward pieces, so chunk sizes and data straddle reads.
        for (int i = 0; i < bytes.Length; i += 700) await c.SendAsync(bytes[i..Math.Min(bytes.Length, i + 700)]);
        var r = await c.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal(payload, r.Body);
    }

    [Fact]
    public async Task Expect_100_continue_gets_interim_response_before_body()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        var interim = await c.ReadResponseAsync();
        Assert.Equal("HTTP/1.1", interim.Version);
        Assert.Equal(100, interim.Status);
        await c.SendAsync("hello");
        var r = await c.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("hello", r.BodyText);
    }

    [Fact]
    public async Task Connection_close_is_honoured()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        var r = await c.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        Assert.True(await c.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Malformed_request_gets_400_and_the_worker_serves_the_next_connection()
    {
        int before = (await RawHttpConnection.GetAsync(Port, "/worker")).WorkerPid;
        await using (var c = await RawHttpConnection.ConnectAsync(Port))
        {
            await c.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\nBad Header Without Colon\r\n\r\n");
            var r = await c.ReadResponseAsync();
            Assert.Equal(400, r.Status);
            AssertStandardHeaders(r);
            Assert.True(await c.IsClosedByServerAsync());
        }
        await using (var c = await RawHttpConnection.ConnectAsync(Port))
        {
            await c.SendAsync("\x01\x02garbage\r\n\r\n");
            var r = await c.ReadResponseAsync();
            Assert.Equal(400, r.Status);
        }
        var after = await RawHttpConnection.GetAsync(Port, "/worker");
        Assert.Equal(200, after.Status);
        Assert.Equal(before, after.WorkerPid);
    }

    [Fact]
    public async Task Unknown_path_is_404_and_post_to_hello_is_405()
    {
        var notFound = await RawHttpConnection.GetAsync(Port, "/does-not-exist");
        Assert.Equal(404, notFound.Status);
        AssertStandardHeaders(notFound);

        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi");
        var r = await c.ReadResponseAsync();
        Assert.Equal(405, r.Status);
        Assert.Contains("GET", r.Header("Allow") ?? "");
        AssertStandardHeaders(r);
    }

    [Fact]
    public async Task Options_asterisk_names_the_methods_the_server_takes()
    {
        // RFC 9110 §9.3.7: "OPTIONS *" asks about the server, not a resource; keep-alive goes on after it.
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var r = await c.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("GET, HEAD, POST, OPTIONS", r.Header("Allow"));
        Assert.Equal("0", r.Header("Content-Length"));
        AssertStandardHeaders(r);
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal("Hello, World!", (await c.ReadResponseAsync()).BodyText);
    }

    [Fact]
    public async Task Tutorial_telnet_session_typed_in_three_writes()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        // A person types: the pieces go out as separate segments with a pause between them.
        await c.SendAsync("GET /hello HTTP/1.1\r\n");
        Assert.False(await c.HasDataWithinAsync(TimeSpan.FromMilliseconds(150)), "answered before the head was complete");
        await c.SendAsync("Host: localhost\r\n");
        Assert.False(await c.HasDataWithinAsync(TimeSpan.FromMilliseconds(150)), "answered before the head was complete");
        await c.SendAsync("\r\n");
        var r = await c.ReadResponseAsync();
        Assert.Equal("HTTP/1.1", r.Version);
        Assert.Equal(200, r.Status);
        Assert.Equal("OK", r.Reason);
        Assert.Equal("Hello, World!", r.BodyText);
        AssertStandardHeaders(r);
        output.WriteLine(r.ToString());
    }
}
