using Prefork.App;

namespace Prefork.Http;

/// <summary>The streamed side of a response: a body too large to buffer, a body produced over time, or a file.</summary>
public sealed partial class HttpConnection : IResponseSink
{
    private BodyFraming _framing;
    private long _streamed;
    private bool _keepAlive;

    async ValueTask IResponseSink.WriteBodyAsync(ReadOnlyMemory<byte> bytes)
    {
        if (!_response.HasStarted) await StartStreamingAsync(pendingFile: 0);
        if (!bytes.IsEmpty)
        {
            _response.CheckStatedLength(_streamed, bytes.Length);
            WriteBodyPart(bytes.Span);
            if (_output.Length < HttpResponse.BufferLimit) return;
        }
        await FlushAsync();
    }

    async ValueTask IResponseSink.SendFileAsync(FileStream file, long offset, long count)
    {
        if (!_response.HasStarted) await StartStreamingAsync(pendingFile: count);
        _response.CheckStatedLength(_streamed, count);
        _streamed += count;
        if (!SendsBody || count == 0) return;
        if (_framing == BodyFraming.Chunked) WriteChunkHeader(count);
        await FlushAsync();
        // sendfile(2) takes at most 2 GiB a call.
        const int MaxPart = int.MaxValue & ~4095;
        for (long sent = 0; sent < count; sent += MaxPart)
        {
            SetDeadline(Phase.Writing, Environment.TickCount64 + (long)_limits.RequestTimeout.TotalMilliseconds);
            await _transport.SendFileAsync(file, offset + sent, (int)Math.Min(MaxPart, count - sent));
        }
        if (_framing == BodyFraming.Chunked) _output.Write("\r\n"u8);
    }

    private bool SendsBody => _head.Method != Method.Head && ResponseWriter.HasBody(_response.StatusCode);

    /// <summary>Sends the head; what the app buffered so far becomes the first part of the body.</summary>
    private async ValueTask StartStreamingAsync(long pendingFile)
    {
        _response.HasStarted = true;
        _keepAlive = KeepAliveWanted();
        if (pendingFile > 0 && _response.ContentLength == null) _response.ContentLength = _response.Body.Length + pendingFile;
        _framing = _response.ContentLength != null ? BodyFraming.ContentLength
            : _head.VersionMinor == 1 ? BodyFraming.Chunked
            : BodyFraming.UntilClose;
        // An HTTP/1.0 client cannot read chunks: the end of its body is the end of the connection.
        if (_framing == BodyFraming.UntilClose) _keepAlive = false;
        ResponseWriter.WriteHead(_output, _response, _framing, _response.ContentLength ?? 0, _keepAlive, _head.VersionMinor == 0);
        _streamed = 0;
        if (_response.Body.Length > 0) WriteBodyPart(_response.Body.Span);
        _response.Body.Clear();
        await FlushAsync();
    }

    private void WriteBodyPart(ReadOnlySpan<byte> bytes)
    {
        _streamed += bytes.Length;
        if (!SendsBody) return;
        if (_framing == BodyFraming.Chunked)
        {
            WriteChunkHeader(bytes.Length);
            _output.Write(bytes);
            _output.Write("\r\n"u8);
        }
        else
        {
            _output.Write(bytes);
        }
    }

    private void WriteChunkHeader(long size)
    {
        Span<byte> hex = stackalloc byte[16];
        size.TryFormat(hex, out int written, "x");
        _output.Write(hex[..written]);
        _output.Write("\r\n"u8);
    }

    /// <summary>
    /// Queues a response the app left whole in the buffer. A body that is not the Content-Length the app stated is
    /// not sent as if it were (Kestrel's rule): with nothing written, or too much, the answer is a 500 with no body;
    /// with part written, the head and that part go out and the connection closes, so the client sees it cut short.
    /// </summary>
    private void WriteBuffered(ref bool keepAlive)
    {
        bool http10 = _head.VersionMinor == 0;
        long written = _response.Body.Length;
        if (SendsBody && _response.ContentLength is { } stated && stated != written)
        {
            Log.Error($"\"{_request.MethodName} {_request.Target}\": the app declared Content-Length {stated} but wrote {written} bytes");
            if (written > 0 && written < stated)
            {
                keepAlive = false;
                ResponseWriter.WriteHead(_output, _response, BodyFraming.ContentLength, stated, keepAlive, http10);
                _output.Write(_response.Body.Span);
                _streamed = written;
                return;
            }
            _response.Reset();
            _response.StatusCode = 500;
        }
        ResponseWriter.Write(_output, _response, _head.Method == Method.Head, keepAlive, http10);
        _streamed = _response.Body.Length;
    }

    /// <summary>Ends a streamed body; false when the connection must close because the body broke its own framing.</summary>
    private bool FinishStreaming()
    {
        if (_framing == BodyFraming.Chunked && SendsBody) _output.Write("0\r\n\r\n"u8);
        if (_framing == BodyFraming.ContentLength && _streamed != _response.ContentLength)
        {
            // The client was promised another length: the only honest end is to close.
            Log.Error($"\"{_request.MethodName} {_request.Target}\": the app declared Content-Length {_response.ContentLength} but sent {_streamed} bytes");
            return false;
        }
        return _keepAlive;
    }
}
