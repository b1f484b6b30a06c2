using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// Real client addresses behind a proxy: the PROXY protocol header (--proxy-protocol, --proxy-allow-from) and
/// X-Forwarded-For / X-Forwarded-Proto (--forwarded-allow-ips), as the access log shows them. 127.0.0.2 stands
/// for a peer that is not on the default allow list (127.0.0.1, ::1).
/// </summary>
public sealed class ClientAddressTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly IPAddress Untrusted = IPAddress.Parse("127.0.0.2");

    private static byte[] V2Inet6(string source, int port)
    {
        byte[] header = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0, 36 + 7,
            .. IPAddress.Parse(source).GetAddressBytes(), .. IPAddress.IPv6Loopback.GetAddressBytes(), (byte)(port >> 8), (byte)port, 0, 80,
            0x04, 0x00, 0x04, 1, 2, 3, 4]; // a TLV (PP2_TYPE_NOOP), skipped
        return header;
    }

    private static async Task<MasterProcess> StartAsync(ITestOutputHelper output, params string[] flags) =>
        await MasterProcess.StartReadyAsync(1, ["--access-log", "-", .. flags], output);

    /// <summary>Sends a request for /hello?<paramref name="tag"/> and returns its access-log line.</summary>
    private static async Task<string> ServedAsync(MasterProcess master, RawHttpConnection client, string tag, params string[] headers)
    {
        await client.SendAsync($"GET /hello?{tag} HTTP/1.1\r\nHost: x\r\n{string.Concat(headers.Select(h => h + "\r\n"))}\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        return await AccessLineAsync(master, tag);
    }

    private static async Task<string> AccessLineAsync(MasterProcess master, string tag)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var line = master.StdoutLines.FirstOrDefault(l => l.Contains($"/hello?{tag} ", StringComparison.Ordinal));
            if (line != null) return line;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no access-log line for {tag}:\n{string.Join("\n", master.StdoutLines)}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_proxy_header_names_the_client_and_a_bad_one_closes_only_its_connection()
    {
        await using var master = await StartAsync(output, "--proxy-protocol", "--log-level", "debug");
        int port = master.Port;

        await using (var v1 = await RawHttpConnection.ConnectAsync(port))
        {
            await v1.SendAsync("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n");
            Assert.StartsWith("192.0.2.10 - - [", await ServedAsync(master, v1, "v1"));
            // The header is the connection's: the next request on it has the same client, and its forged
            // X-Forwarded-For is not believed (192.0.2.10 is not a trusted proxy).
            Assert.StartsWith("192.0.2.10 - - [", await ServedAsync(master, v1, "v1-again", "X-Forwarded-For: 203.0.113.66"));
        }

        await using (var v2 = await RawHttpConnection.ConnectAsync(port))
        {
            // Split across reads: the header arrives in two pieces, the request in a third.
            var header = V2Inet6("2001:db8::7", 40000);
            await v2.SendAsync(header[..10]);
            Assert.False(await v2.HasDataWithinAsync(TimeSpan.FromMilliseconds(200)));
            await v2.SendAsync(header[10..]);
            Assert.StartsWith("2001:db8::7 - - [", await ServedAsync(master, v2, "v2"));
        }

        // Malformed (a loose IPv4 address), and plain HTTP with no header: closed unanswered, each logged.
        foreach (var bad in new[] { "PROXY TCP4 127.1 127.0.0.1 1 2\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" })
        {
            await using var client = await RawHttpConnection.ConnectAsync(port);
            await client.SendAsync(bad);
            Assert.True(await client.IsClosedByServerAsync(), $"not closed: {bad}");
        }
        await master.WaitForLineAsync(l => l.Contains("PROXY header refused from 127.0.0.1:") && l.Contains("bad address or port"), Bound);
        await master.WaitForLineAsync(l => l.Contains("PROXY header refused from 127.0.0.1:") && l.Contains("not a PROXY protocol header"), Bound);

        // The one worker goes on serving.
        await using (var next = await RawHttpConnection.ConnectAsync(port))
        {
            await next.SendAsync("PROXY UNKNOWN\r\n");
            Assert.StartsWith("127.0.0.1 - - [", await ServedAsync(master, next, "after"));
        }
        Assert.DoesNotContain(master.StdoutLines, l => l.Contains("127.1") || l.Contains("203.0.113.66"));
    }

    [Fact]
    public async Task A_peer_not_allowed_to_send_proxy_headers_is_closed_and_half_a_header_is_cut_by_the_request_timeout()
    {
        await using var master = await StartAsync(output, "--proxy-protocol", "--request-timeout", "2");

        await using (var stranger = await RawHttpConnection.ConnectAsync(master.Port, Untrusted))
        {
            await stranger.SendAsync("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET /hello?stranger HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.True(await stranger.IsClosedByServerAsync());
        }
        // The first refusal is a warning (the default log level shows it); the stranger's request was never served.
        await master.WaitForLineAsync(l => l.Contains("[WARNING] PROXY header refused from 127.0.0.2:") && l.Contains("--proxy-allow-from"), Bound);

        await using (var slow = await RawHttpConnection.ConnectAsync(master.Port))
        {
            await slow.SendAsync("PROXY TCP4 192.0.2.10 ");
            var sent = DateTime.UtcNow;
            Assert.True(await slow.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
            Assert.True(DateTime.UtcNow - sent > TimeSpan.FromSeconds(1), "cut before its request timeout");
        }
        await using var next = await RawHttpConnection.ConnectAsync(master.Port);
        await next.SendAsync("PROXY TCP4 192.0.2.11 198.51.100.1 1 443\r\n");
        Assert.StartsWith("192.0.2.11 - - [", await ServedAsync(master, next, "after"));
        Assert.DoesNotContain(master.StdoutLines, l => l.Contains("stranger"));
    }

    [Fact]
    public async Task Each_connection_closed_for_its_proxy_header_is_counted_in_the_metrics()
    {
        await using var master = await StartAsync(output, "--proxy-protocol", "--request-timeout", "2", "--metrics-bind", "127.0.0.1:0");
        int metrics = await master.WaitForMetricsPortAsync(Bound);
        // Not allowed, malformed, missing (plain HTTP), cut off, late: five refusals.
        foreach (var (from, bytes) in new[]
        {
            (Untrusted, "PROXY TCP4 192.0.2.10 198.51.100.1 1 443\r\n"),
            (IPAddress.Loopback, "PROXY TCP4 127.1 127.0.0.1 1 2\r\n"),
            (IPAddress.Loopback, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"),
        })
        {
            await using var client = await RawHttpConnection.ConnectAsync(master.Port, from);
            await client.SendAsync(bytes);
            Assert.True(await client.IsClosedByServerAsync());
        }
        await using (var cut = await RawHttpConnection.ConnectAsync(master.Port)) await cut.SendAsync("PROXY TCP4 ");
        await using (var late = await RawHttpConnection.ConnectAsync(master.Port))
        {
            await late.SendAsync("PROXY TCP4 192.0.2.10 ");
            Assert.True(await late.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        }
        // A connection that closes before its first byte is no refusal; a good header is none either.
        await (await RawHttpConnection.ConnectAsync(master.Port)).DisposeAsync();
        await using (var good = await RawHttpConnection.ConnectAsync(master.Port))
        {
            await good.SendAsync("PROXY TCP4 192.0.2.11 198.51.100.1 1 443\r\n");
            Assert.StartsWith("192.0.2.11 - - [", await ServedAsync(master, good, "good"));
        }

        // Reports come once a second: wait for the good request, which the worker counted after every refusal.
        var deadline = DateTime.UtcNow + Bound;
        Metrics.PrometheusParser scrape;
        while ((scrape = Metrics.PrometheusParser.Parse((await RawHttpConnection.GetAsync(metrics, "/metrics")).BodyText))
               .Value("prefork_requests_total", ("method", "GET"), ("status", "2xx")) < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the good request never reached the metrics");
            await Task.Delay(200);
        }
        Assert.Equal(5, scrape.Value("prefork_client_errors_total", ("kind", "proxy_header")));
        // The late header is counted as a refused header, not also as a timeout.
        Assert.Equal(0, scrape.Value("prefork_client_errors_total", ("kind", "timeout")));
    }

    [Fact]
    public async Task The_peer_is_named_with_its_address_and_port_over_ipv4_and_ipv6()
    {
        // Every peer is refused as soon as it connects (none is 192.0.2.1), and the refusal names it (each one, at debug level).
        await using var master = await StartAsync(output, "--bind", "127.0.0.1:0", "--bind", "[::1]:0",
            "--proxy-protocol", "--proxy-allow-from", "192.0.2.1", "--log-level", "debug");
        var v6 = await master.WaitForLineAsync(l => l.Contains("Listening at: http://[::1]:", StringComparison.Ordinal), Bound);
        int v6Port = int.Parse(v6[(v6.IndexOf("[::1]:", StringComparison.Ordinal) + 6)..].Split(' ')[0]);

        foreach (var (from, to) in new[] { (Untrusted, IPAddress.Loopback), (IPAddress.IPv6Loopback, IPAddress.IPv6Loopback) })
        {
            using var client = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            client.Bind(new IPEndPoint(from, 0));
            await client.ConnectAsync(new IPEndPoint(to, to.Equals(IPAddress.Loopback) ? master.Port : v6Port));
            var peer = (IPEndPoint)client.LocalEndPoint!;
            await master.WaitForLineAsync(l => l.Contains($"PROXY header refused from {peer}: ", StringComparison.Ordinal), Bound);
        }
    }

    [Fact]
    public async Task X_forwarded_for_is_believed_from_a_trusted_peer_only()
    {
        await using var master = await StartAsync(output);
        const string Forwarded = "X-Forwarded-For: 198.51.100.1, 203.0.113.9";

        await using (var trusted = await RawHttpConnection.ConnectAsync(master.Port))
        {
            Assert.StartsWith("203.0.113.9 - - [", await ServedAsync(master, trusted, "trusted", Forwarded));
            // Each request says its own: the next one, without the header, is the peer's again.
            Assert.StartsWith("127.0.0.1 - - [", await ServedAsync(master, trusted, "plain"));
        }
        await using (var untrusted = await RawHttpConnection.ConnectAsync(master.Port, Untrusted))
            Assert.StartsWith("127.0.0.2 - - [", await ServedAsync(master, untrusted, "untrusted", Forwarded));
    }

    [Fact]
    public async Task Behind_a_proxy_header_x_forwarded_for_is_believed_when_the_client_it_names_is_trusted()
    {
        await using var master = await StartAsync(output, "--proxy-protocol", "--forwarded-allow-ips", "192.0.2.0/24");
        await using var client = await RawHttpConnection.ConnectAsync(master.Port);
        await client.SendAsync("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n");
        Assert.StartsWith("203.0.113.9 - - [", await ServedAsync(master, client, "chain", "X-Forwarded-For: 203.0.113.9"));
    }
}
