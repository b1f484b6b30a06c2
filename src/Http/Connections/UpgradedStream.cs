namespace Prefork.Http;

/// <summary>
/// An upgraded connection's bytes, both ways, raw (what WebSocket.CreateFromStream runs on). One read and one
/// write may wait at a time, as on any socket. A read cannot be taken back from the event loop: a token that
/// fires while one waits does not end it, disposing the stream does (ManagedWebSocket disposes its stream to
/// abort). Synchronous reads and writes are refused: on the event loop they would stall every connection.
/// </summary>
internal sealed class UpgradedStream(HttpConnection connection) : Stream
{
    private int _disposed;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<int>(cancellationToken);
        return connection.ReadUpgradedAsync(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        return connection.WriteUpgradedAsync(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Writes are sent as they are made: there is nothing to flush.
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new InvalidOperationException("Synchronous operations are disallowed: use ReadAsync");

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new InvalidOperationException("Synchronous operations are disallowed: use WriteAsync");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) connection.EndUpgraded();
        base.Dispose(disposing);
    }
}
