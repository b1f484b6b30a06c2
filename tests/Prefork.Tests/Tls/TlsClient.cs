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

    /// <summary>
    /// GET <paramref name="path"/> with Connection: close; the server's certificate is taken as it is (the test checks
    /// its serial). A <paramref name="preamble"/> (a PROXY header) goes before the handshake, in the ClientHello's own
    /// send when <paramref name="withHello"/>, else in one of its own.
    /// </summary>
    public static async Task<Answer> GetAsync(int port, string path = "/", TimeSpan? bound = null, byte[]? preamble = null, bool withHello = false)
    {
        using var timeout = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(20));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        Stream network = tcp.GetStream();
        if (preamble != null && !withHello) await network.WriteAsync(preamble, timeout.Token);
        if (preamble != null && withHello) network = new PrefixedStream(network, preamble);
        await using var ssl = new SslStream(network);
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

    /// <summary>Puts its prefix in front of the first write, so both leave in one send.</summary>
    private sealed class PrefixedStream(Stream inner, byte[] prefix) : Stream
    {
        private byte[]? _prefix = prefix;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix is { } first)
            {
                _prefix = null;
                buffer = (byte[])[.. first, .. buffer.Span];
            }
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, default).GetAwaiter().GetResult();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override void Flush() => inner.Flush();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
