using System.Buffers;
using System.IO.Pipelines;
using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// The response body as a PipeWriter (IHttpResponseBodyFeature.Writer), which minimal APIs, results and
/// System.Text.Json write through. Its flush hands the bytes to the engine and sends them when
/// <see cref="RequestFeatures.FlushAsync"/> says so.
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
        await features.FlushAsync(cancellationToken);
        return default;
    }

    /// <summary>Passes what is written on to the engine, which copies it (into its buffer or onto the wire) before this completes.</summary>
    public async ValueTask HandOverAsync()
    {
        if (_length == 0) return;
        await response.WriteAsync(_buffer.AsMemory(0, _length));
        _length = 0;
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
