using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Prefork.Http.Loop;

namespace Prefork.Http.Tls;

/// <summary>
/// A connection's bytes through TLS: the framework's <see cref="SslStream"/> (OpenSSL underneath) over the
/// connection's <see cref="LoopSocket"/>. A file is read and written through the stream, since the kernel's
/// sendfile(2) cannot encrypt.
/// </summary>
internal sealed class TlsTransport : IConnectionTransport, IDisposable
{
    private const int FileChunk = 64 * 1024;
    private readonly SslStream _ssl;
    private readonly LoopSocket _io;

    public TlsTransport(LoopSocket io, byte[] readAhead)
    {
        _ssl = new SslStream(new LoopStream(io, readAhead), leaveInnerStreamOpen: true);
        _io = io;
    }

    public SslStream Stream => _ssl;

    public Task HandshakeAsync(TlsServer server) => _ssl.AuthenticateAsServerAsync(server.Options, CancellationToken.None);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _ssl.ReadAsync(buffer);

    public ValueTask SendAsync(ReadOnlyMemory<byte> bytes, bool moreFollows = false) => _ssl.WriteAsync(bytes);

    public async ValueTask SendFileAsync(SafeFileHandle file, long offset, int count)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(count, FileChunk));
        try
        {
            for (int sent = 0; sent < count;)
            {
                int read = RandomAccess.Read(file, buffer.AsSpan(0, Math.Min(buffer.Length, count - sent)), offset + sent);
                if (read == 0) throw new EndOfStreamException("the file ended before its stated length");
                await _ssl.WriteAsync(buffer.AsMemory(0, read));
                sent += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>close_notify first (RFC 8446 §6.1), so the client can tell the end from a cut, then the TCP end.</summary>
    public async ValueTask ShutdownSendAsync()
    {
        await _ssl.ShutdownAsync();
        _io.Shutdown(SocketShutdown.Send);
    }

    public void Dispose() => _ssl.Dispose();
}
