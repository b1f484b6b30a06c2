using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// The response body as a write-only stream (IHttpResponseBodyFeature.Stream, and under the PipeWriter). Its
/// first write starts the response. Synchronous writes are refused, as Kestrel refuses them by default: on an
/// event loop a blocked write would stall every connection. Its flush sends what is written now.
/// </summary>
internal sealed class ResponseBodyStream(RequestFeatures features, HttpResponse response) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await features.HandOverWrittenAsync(cancellationToken);
        await response.WriteAsync(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await features.HandOverWrittenAsync(cancellationToken);
        await response.FlushAsync();
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new InvalidOperationException("Synchronous operations are disallowed: use WriteAsync");

    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
