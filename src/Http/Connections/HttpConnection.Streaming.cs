using Microsoft.Win32.SafeHandles;
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
        if (!_exchange.Response.HasStarted)
        {
            StartStreaming(pendingFile: 0);
            await FlushAsync();
        }
        if (!bytes.IsEmpty)
        {
            _exchange.Response.CheckStatedLength(_streamed, bytes.Length);
            WriteBodyPart(bytes.Span);
            if (_exchange.Output.Length < HttpResponse.BufferLimit) return;
        }
        await FlushAsync();
    }

    async ValueTask IResponseSink.SendFileAsync(SafeFileHandle file, long offset, long count)
    {
        if (!_exchange.Response.HasStarted) StartStreaming(pendingFile: count);
        _exchange.Response.CheckStatedLength(_streamed, count);
        _streamed += count;
        if (!SendsBody || count == 0)
        {
            await FlushAsync();
            return;
        }
        if (_framing == BodyFraming.Chunked) WriteChunkHeader(count);
        // The head goes out in the file's first segment, not in one of its own: a packet, and a wake-up of the
        // client, fewer per file (nginx's tcp_nopush, with no setsockopt before and after).
        await FlushAsync(moreFollows: true);
        // sendfile(2) takes at most 2 GiB a call.
        const int MaxPart = int.MaxValue & ~4095;
        for (long sent = 0; sent < count; sent += MaxPart)
        {
            SetDeadline(Phase.Writing, Environment.TickCount64 + (long)_limits.RequestTimeout.TotalMilliseconds);
            await _transport.SendFileAsync(file, offset + sent, (int)Math.Min(MaxPart, count - sent));
        }
        if (_framing == BodyFraming.Chunked) _exchange.Output.Write("\r\n"u8);
    }

    private bool SendsBody => _exchange.Head.Method != Method.Head && ResponseWriter.HasBody(_exchange.Response.StatusCode);

    /// <summary>Queues the head; what the app buffered so far becomes the first part of the body.</summary>
    private void StartStreaming(long pendingFile)
    {
        _exchange.Response.HasStarted = true;
        _keepAlive = KeepAliveWanted();
        if (pendingFile > 0 && _exchange.Response.ContentLength == null) _exchange.Response.ContentLength = _exchange.Response.Body.Length + pendingFile;
        _framing = _exchange.Response.ContentLength != null ? BodyFraming.ContentLength
            : _exchange.Head.VersionMinor == 1 ? BodyFraming.Chunked
            : BodyFraming.UntilClose;
        // An HTTP/1.0 client cannot read chunks: the end of its body is the end of the connection.
        if (_framing == BodyFraming.UntilClose) _keepAlive = false;
        ResponseWriter.WriteHead(_exchange.Output, _exchange.Response, _framing, _exchange.Response.ContentLength ?? 0, _keepAlive, _exchange.Head.VersionMinor == 0);
        _streamed = 0;
        if (_exchange.Response.Body.Length > 0) WriteBodyPart(_exchange.Response.Body.Span);
        _exchange.Response.Body.Clear();
    }

    private void WriteBodyPart(ReadOnlySpan<byte> bytes)
    {
        _streamed += bytes.Length;
        if (!SendsBody) return;
        if (_framing == BodyFraming.Chunked)
        {
            WriteChunkHeader(bytes.Length);
            _exchange.Output.Write(bytes);
            _exchange.Output.Write("\r\n"u8);
        }
        else
        {
            _exchange.Output.Write(bytes);
        }
    }

    private void WriteChunkHeader(long size)
    {
        Span<byte> hex = stackalloc byte[16];
        size.TryFormat(hex, out int written, "x");
        _exchange.Output.Write(hex[..written]);
        _exchange.Output.Write("\r\n"u8);
    }

    /// <summary>
    /// Queues a response the app left whole in the buffer. A body that is not the Content-Length the app stated is
    /// not sent as if it were (Kestrel's rule): with nothing written, or too much, the answer is a 500 with no body;
    /// with part written, the head and that part go out and the connection closes, so the client sees it cut short.
    /// </summary>
    private void WriteBuffered(ref bool keepAlive)
    {
        bool http10 = _exchange.Head.VersionMinor == 0;
        long written = _exchange.Response.Body.Length;
        if (SendsBody && _exchange.Response.ContentLength is { } stated && stated != written)
        {
            Log.Error($"\"{_exchange.Request.MethodName} {_exchange.Request.Target}\": the app declared Content-Length {stated} but wrote {written} bytes");
            if (written > 0 && written < stated)
            {
                keepAlive = false;
                ResponseWriter.WriteHead(_exchange.Output, _exchange.Response, BodyFraming.ContentLength, stated, keepAlive, http10);
                _exchange.Output.Write(_exchange.Response.Body.Span);
                _streamed = written;
                return;
            }
            _exchange.Response.Reset();
            _exchange.Response.StatusCode = 500;
        }
        ResponseWriter.Write(_exchange.Output, _exchange.Response, _exchange.Head.Method == Method.Head, keepAlive, http10);
        _streamed = _exchange.Response.Body.Length;
    }

    /// <summary>Ends a streamed body; false when the connection must close because the body broke its own framing.</summary>
    private bool FinishStreaming()
    {
        if (_framing == BodyFraming.Chunked && SendsBody) _exchange.Output.Write("0\r\n\r\n"u8);
        if (_framing == BodyFraming.ContentLength && _streamed != _exchange.Response.ContentLength)
        {
            // The client was promised another length: the only honest end is to close.
            Log.Error($"\"{_exchange.Request.MethodName} {_exchange.Request.Target}\": the app declared Content-Length {_exchange.Response.ContentLength} but sent {_streamed} bytes");
            return false;
        }
        return _keepAlive;
    }
}
