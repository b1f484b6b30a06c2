using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prefork.Http;
using Prefork.Tests.Server;
using Prefork.Tests.Tls;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// A proxy that ends TLS itself can say so in its PROXY v2 header (PP2_TYPE_SSL with PP2_CLIENT_SSL: HAProxy's
/// send-proxy-v2-ssl); an ASP.NET Core app behind it then sees Request.Scheme https, as a trusted
/// X-Forwarded-Proto makes it, with no forwarded-headers middleware of its own.
/// </summary>
[Collection(HostsInProcess.Name)]
public sealed class ProxiedTlsSchemeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly ProxyTrust Trust = new() { ProxyProtocol = true };

    private static void MapScheme(WebApplication app) =>
        app.MapGet("/scheme", (HttpContext c) => $"{c.Request.Scheme} {c.Request.IsHttps} {c.Connection.RemoteIpAddress}");

    private static int Port(LoopbackTransport transport) => new Uri(transport.Addresses[0]).Port;

    [Fact]
    public async Task A_proxy_header_saying_the_client_used_tls_makes_the_scheme_https()
    {
        using var transport = new LoopbackTransport(proxyTrust: Trust);
        await using var app = InterceptedApp.Build(transport, MapScheme);
        await app.StartAsync();

        // PP2_CLIENT_SSL set, then clear (the TLV is there, the client's connection was not TLS), then no TLV at all.
        foreach (var (ssl, expected) in new (byte[] Tlv, string Answer)[]
        {
            ([0x20, 0x00, 0x0F, 0x01, 0, 0, 0, 0, 0x21, 0x00, 0x07, .. "TLSv1.3"u8], "https True 203.0.113.5"),
            ([0x20, 0x00, 0x05, 0x00, 0, 0, 0, 0], "http False 203.0.113.5"),
            ([], "http False 203.0.113.5"),
        })
        {
            await using var client = await RawHttpConnection.ConnectAsync(Port(transport));
            await client.SendAsync([.. V2Inet("203.0.113.5", ssl), .. "GET /scheme HTTP/1.1\r\nHost: x\r\n\r\n"u8]);
            Assert.Equal(expected, (await client.ReadResponseAsync()).BodyText);
        }
        await app.StopAsync();
    }

    [FleetTests.HaproxyFact]
    public async Task Behind_haproxy_ending_tls_with_send_proxy_v2_ssl_the_scheme_is_https()
    {
        using var certificates = new TestCertificates();
        var (cert, key, _) = certificates.Server("haproxy");
        // HAProxy's crt takes the certificate and its key in one file.
        var pem = Path.Combine(certificates.Folder, "haproxy-crt.pem");
        File.WriteAllText(pem, File.ReadAllText(cert) + File.ReadAllText(key));
        using var transport = new LoopbackTransport(proxyTrust: Trust);
        await using var app = InterceptedApp.Build(transport, MapScheme);
        await app.StartAsync();

        int front = FleetTests.FreePort();
        var config = Path.Combine(certificates.Folder, "haproxy.cfg");
        File.WriteAllText(config, $"""
            defaults
                mode tcp
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend tls
                bind 127.0.0.1:{front} ssl crt {pem}
                default_backend prefork
            backend prefork
                server app 127.0.0.1:{Port(transport)} send-proxy-v2-ssl-cn

            """);
        using var haproxy = Process.Start(new ProcessStartInfo(FleetTests.Haproxy!, ["-f", config, "-db"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _ = haproxy.StandardError.ReadToEndAsync();
        _ = haproxy.StandardOutput.ReadToEndAsync();
        try
        {
            var answer = await FirstAnswerAsync(front);
            Assert.Equal(200, answer.Status);
            Assert.EndsWith("\r\n\r\nhttps True 127.0.0.1", answer.Text);
        }
        finally
        {
            if (!haproxy.HasExited) Native.SendSignal(haproxy.Id, Native.SIGKILL);
            await app.StopAsync();
        }
    }

    /// <summary>The first answer through HAProxy, which may not be listening yet when it has just started.</summary>
    private static async Task<TlsClient.Answer> FirstAnswerAsync(int port)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await TlsClient.GetAsync(port, "/scheme");
            }
            catch (System.Net.Sockets.SocketException) when (watch.Elapsed < Bound)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A PROXY v2 header for a TCP over IPv4 client, then <paramref name="tlvs"/>.</summary>
    private static byte[] V2Inet(string source, byte[] tlvs)
    {
        byte[] header = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0, (byte)(12 + tlvs.Length),
            .. IPAddress.Parse(source).GetAddressBytes(), 192, 0, 2, 1, 0x9C, 0x40, 0x01, 0xBB, .. tlvs];
        return header;
    }
}
