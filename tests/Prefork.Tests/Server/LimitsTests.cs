using System.Text;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>One worker with small --limit-request-* values.</summary>
public sealed class SmallLimitsServer : IAsyncLifetime
{
    public MasterProcess Master { get; private set; } = null!;

    public async Task InitializeAsync() => Master = await MasterProcess.StartReadyAsync(1,
        ["--limit-request-line", "64", "--limit-request-fields", "5", "--limit-request-field-size", "64", "--limit-request-body", "1000"]);

    public async Task DisposeAsync() => await Master.DisposeAsync();
}

/// <summary>The --limit-request-* flags reach the worker and are enforced on the wire, before the excess is read.</summary>
public class LimitsTests(SmallLimitsServer server, ITestOutputHelper output) : IClassFixture<SmallLimitsServer>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private int Port => server.Master.Port;

    private async Task<RawResponse> RefusedAsync(string request, int status)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(request);
        var r = await c.ReadResponseAsync(timeout: Bound);
        output.WriteLine(r.ToString());
        Assert.Equal(status, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        Assert.True(await c.IsClosedByServerAsync(Bound), $"no close after {status}");
        return r;
    }

    private async Task AcceptedAsync(string request, string body)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(request);
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, r.Status);
        Assert.Equal(body, r.BodyText);
    }

    [Fact]
    public async Task Request_line_past_the_limit_is_414_and_one_at_it_is_served()
    {
        // "GET " + target + " HTTP/1.1" = 64 bytes exactly is allowed.
        var target = "/hello?" + new string('a', 64 - "GET  HTTP/1.1".Length - "/hello?".Length);
        await AcceptedAsync($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, World!");
        await RefusedAsync($"GET {target}a HTTP/1.1\r\nHost: x\r\n\r\n", 414);
        await RefusedAsync($"GET /{new string('a', 200)} HTTP/1.1\r\nHost: x\r\n\r\n", 414);
    }

    [Fact]
    public async Task Long_request_line_is_refused_before_it_ends()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync($"GET /{new string('a', 100)}");
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(414, r.Status);
    }

    [Fact]
    public async Task Header_field_past_the_limit_is_431()
    {
        var value = new string('v', 64 - "X-Long: ".Length);
        await AcceptedAsync($"GET /hello HTTP/1.1\r\nHost: x\r\nX-Long: {value}\r\n\r\n", "Hello, World!");
        await RefusedAsync($"GET /hello HTTP/1.1\r\nHost: x\r\nX-Long: {value}v\r\n\r\n", 431);
    }

    [Fact]
    public async Task Six_fields_is_431_and_five_are_served()
    {
        var four = string.Concat(Enumerable.Range(1, 4).Select(i => $"X-{i}: {i}\r\n"));
        await AcceptedAsync($"GET /hello HTTP/1.1\r\nHost: x\r\n{four}\r\n", "Hello, World!");
        await RefusedAsync($"GET /hello HTTP/1.1\r\nHost: x\r\n{four}X-5: 5\r\n\r\n", 431);
    }

    [Fact]
    public async Task Content_length_past_the_limit_is_413_before_the_body_is_sent()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
        // Not one byte of the body is sent: the 413 must come on the head alone.
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(413, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
    }

    [Fact]
    public async Task Body_at_the_limit_is_served()
    {
        var body = new string('b', 1000);
        await AcceptedAsync($"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{body}", body);
        await AcceptedAsync($"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3E8\r\n{body}\r\n0\r\n\r\n", body);
    }

    [Fact]
    public async Task Chunked_body_past_the_limit_is_413()
    {
        var chunk = new string('c', 600);
        // Two chunks, each under the limit, together over it.
        await RefusedAsync($"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n", 413);
        // One chunk declared far larger than the limit, only its start sent.
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync($"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n{new string('c', 1200)}");
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(413, r.Status);
    }

    [Fact]
    public async Task A_chunk_larger_than_the_limit_is_413_on_its_size_line_alone()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        // Not one byte of the chunk is sent: the 413 must come on its size, as it does on a Content-Length.
        await c.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n");
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(413, r.Status);
        Assert.True(await c.IsClosedByServerAsync(Bound));
    }

    [Fact]
    public async Task Expect_100_continue_with_too_large_a_body_gets_413_and_no_100()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n");
        var r = await c.ReadResponseAsync(timeout: Bound);
        Assert.Equal(413, r.Status);
        Assert.True(await c.IsClosedByServerAsync(Bound));
    }

    [Fact]
    public async Task Limits_refusals_cost_nothing_but_their_connection()
    {
        int before = (await RawHttpConnection.GetAsync(Port, "/worker")).WorkerPid;
        await RefusedAsync($"GET /hello HTTP/1.1\r\nHost: x\r\nX-Long: {new string('v', 500)}\r\n\r\n", 431);
        Assert.Equal(before, (await RawHttpConnection.GetAsync(Port, "/worker")).WorkerPid);
        Assert.DoesNotContain(server.Master.Lines, l => l.Contains("[ERROR]") || l.Contains("Unhandled"));
    }
}
