using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Prefork.Tests.Tls;

/// <summary>One request over a new TLS connection, made with .NET's own client: what the server presented, and its answer.</summary>
public static class TlsClient
{
    public sealed record Answer(int Status, string Serial, SslApplicationProtocol Alpn, SslProtocols Protocol, string Text);

    /// <summary>GET <paramref name="path"/> with Connection: close; the server's certificate is taken as it is (the test checks its serial).</summary>
    public static async Task<Answer> GetAsync(int port, string path = "/", TimeSpan? bound = null)
    {
        using var timeout = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(20));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        await using var ssl = new SslStream(tcp.GetStream());
        string serial = "";
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                serial = certificate is X509Certificate2 c ? c.SerialNumber : new X509Certificate2(certificate!).SerialNumber;
                return true;
            },
        }, timeout.Token);
        await ssl.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), timeout.Token);
        using var reader = new StreamReader(ssl, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(timeout.Token);
        int status = text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3)) : 0;
        return new Answer(status, serial, ssl.NegotiatedApplicationProtocol, ssl.SslProtocol, text);
    }
}
