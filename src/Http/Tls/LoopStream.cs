using Prefork.Http.Loop;

namespace Prefork.Http.Tls;

/// <summary>
/// The socket as the <see cref="System.Net.Security.SslStream"/> over it sees it: its reads and writes are the
/// <see cref="LoopSocket"/>'s, so what the TLS engine waits for is waited for on the event loop and resumes on
/// its thread, with no thread of its own. The bytes the connection read before it knew the client speaks TLS
/// (the start of the ClientHello) are read first. Only the asynchronous calls are made on it.
/// </summary>
internal sealed class LoopStream(LoopSocket socket, byte[] readAhead) : Stream
{
    private int _readAheadUsed;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_readAheadUsed == readAhead.Length) return socket.ReceiveAsync(buffer);
        int n = Math.Min(buffer.Length, readAhead.Length - _readAheadUsed);
        readAhead.AsSpan(_readAheadUsed, n).CopyTo(buffer.Span);
        _readAheadUsed += n;
        return new(n);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        socket.SendAsync(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the loop's socket is read asynchronously");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the loop's socket is written asynchronously");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
