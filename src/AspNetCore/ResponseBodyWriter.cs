using System.Buffers;
using System.IO.Pipelines;
using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// The response body as a PipeWriter (IHttpResponseBodyFeature.Writer), which minimal APIs, results and
/// System.Text.Json write through. Its flush hands the bytes to the engine, which buffers a small body and
/// sends it with Content-Length when the request ends: ASP.NET Core flushes after every write, and sending
/// each flush would make every response chunked and cost a send per write. An app that must push bytes out
/// now (server-sent events) flushes <see cref="ResponseBodyStream"/>.
/// </summary>
internal sealed class ResponseBodyWriter(RequestFeatures features, HttpResponse response) : PipeWriter
{
    private byte[] _buffer = [];
    private int _length;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_buffer.Length - _length < Math.Max(sizeHint, 1)) Grow(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_length);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes) => _length += bytes;

    // System.Text.Json writes to a PipeWriter only if it can tell how much is waiting (it flushes past a threshold).
    public override bool CanGetUnflushedBytes => true;
    public override long UnflushedBytes => _length;

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        await features.StartAsync(cancellationToken);
        if (_length > 0)
        {
            // The engine copies the bytes (into its buffer or onto the wire) before this completes.
            await response.WriteAsync(_buffer.AsMemory(0, _length));
            _length = 0;
        }
        return default;
    }

    public override void CancelPendingFlush() { }

    // The response ends with the request, not when a writer says it is done.
    public override void Complete(Exception? exception = null) { }

    /// <summary>Gives the buffer back to the pool once the request is over.</summary>
    public void Release()
    {
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _length = 0;
    }

    private void Grow(int sizeHint)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(4096, _length + sizeHint));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
