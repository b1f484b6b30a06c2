using Microsoft.AspNetCore.Http;
using Prefork.App;
using HttpRequest = Prefork.App.HttpRequest;

namespace Prefork.AspNetCore;

/// <summary>
/// The request body as a read-only stream (IHttpRequestFeature.Body), read from the connection as the app asks.
/// A body the engine refuses surfaces as Kestrel's BadHttpRequestException, with its status, which ASP.NET Core's
/// own code (model binding, minimal API parameters) turns into the answer. Synchronous reads are refused, as
/// Kestrel refuses them by default; a read waiting on the event loop cannot be cancelled, only cut by the
/// engine's timeout.
/// </summary>
internal sealed class RequestBodyStream(HttpRequest request) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<int>(cancellationToken);
        var reading = request.ReadBodyAsync(buffer);
        return reading.IsCompletedSuccessfully ? reading : AsKestrelWouldAsync(reading);
    }

    private static async ValueTask<int> AsKestrelWouldAsync(ValueTask<int> reading)
    {
        try
        {
            return await reading;
        }
        catch (BadRequestBodyException e)
        {
            throw new BadHttpRequestException(e.Message, e.StatusCode, e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new InvalidOperationException("Synchronous operations are disallowed: use ReadAsync");

    public override void Flush() { }
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
