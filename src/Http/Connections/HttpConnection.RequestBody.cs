using Prefork.App;

namespace Prefork.Http;

/// <summary>
/// A request's body as it arrives, Content-Length or chunked, within the request's size limit and the client's
/// time. A plain app gets it whole before it runs (<see cref="HttpRequest.Body"/>); an app that streams it
/// (<see cref="IHttpApp.StreamsRequestBody"/>) runs once the head is parsed and reads it as it goes, as under
/// Kestrel. Both take it through <see cref="TakeBody"/>, straight out of the connection's input buffer.
/// </summary>
public sealed partial class HttpConnection
{
    // Past this much of a body the app left unread, the next request is not worth waiting for: the connection closes.
    private const long DrainLimit = 256 * 1024;

    private ChunkedDecoder _chunks;
    private long _bodyLeft, _bodyTaken, _bodyLimit, _bodyWaitLeft;
    private bool _bodyDone, _bodyStarted, _continueSent;
    private RejectReason _bodyError;

    /// <summary>A new request's body: nothing taken, the server's limit, the whole request timeout to arrive in.</summary>
    private void BeginBody()
    {
        _chunks = default;
        _bodyLeft = Math.Max(_exchange.Head.ContentLength, 0);
        _bodyTaken = 0;
        _bodyLimit = _limits.MaxBodySize;
        _bodyWaitLeft = (long)_limits.RequestTimeout.TotalMilliseconds;
        _bodyDone = !_exchange.Head.HasBody;
        _bodyStarted = _continueSent = false;
        _bodyError = RejectReason.None;
    }

    /// <summary>Reads the body of a request that has one, whole, before a plain app runs.</summary>
    private async ValueTask<RejectReason> ReadWholeBodyAsync()
    {
        _bodyStarted = true;
        // RFC 9110 §15.5.14: refuse an over-large body before reading it (and before sending 100 Continue).
        if (_exchange.Head.ContentLength > _bodyLimit) return RejectReason.BodyTooLarge;
        if (_exchange.Head.ExpectContinue && _exchange.Head.VersionMinor == 1) await SendContinueAsync();
        var body = _exchange.RequestBody ??= new(256);
        body.Clear();
        while (true)
        {
            int n = TakeBody(int.MaxValue, out int offset);
            if (n > 0) body.Write(_input.AsSpan(offset, n));
            else if (n == 0) break;
            else if (_bodyError != RejectReason.None) return _bodyError;
            else if (!await ReceiveBodyAsync()) return BodyCutShort();
        }
        _exchange.Request.Body = body.Memory;
        return RejectReason.None;
    }

    long? IClientConnection.MaxBodySize
    {
        get => _bodyLimit == long.MaxValue ? null : _bodyLimit;
        set => _bodyLimit = _bodyStarted ? throw new InvalidOperationException("the request body is already being read") : value ?? long.MaxValue;
    }

    bool IClientConnection.BodyStarted => _bodyStarted;

    /// <summary>The next bytes of the body into <paramref name="into"/>, as they arrive; 0 at its end.</summary>
    ValueTask<int> IClientConnection.ReadBodyAsync(Memory<byte> into)
    {
        _bodyStarted = true;
        if (into.IsEmpty) return new(0);
        int n = TakeBody(into.Length, out int offset);
        if (n < 0) return ReceiveAndReadBodyAsync(into);
        _input.AsSpan(offset, n).CopyTo(into.Span);
        return new(n);
    }

    private async ValueTask<int> ReceiveAndReadBodyAsync(Memory<byte> into)
    {
        while (true)
        {
            if (_bodyError != RejectReason.None) throw new BadRequestBodyException(_bodyError.StatusCode(), _bodyError.Describe());
            // Kestrel's rule: 100 Continue goes out when the app first waits for the body, unless it has answered already.
            if (!_continueSent && _exchange.Head.ExpectContinue && _exchange.Head.VersionMinor == 1 && !_exchange.Response.HasStarted) await SendContinueAsync();
            bool more = await ReceiveBodyAsync();
            _phase = Phase.Processing;
            if (!more) _bodyError = _timedOut ? RejectReason.RequestTimeout : RejectReason.IncompleteBody;
            int n = TakeBody(into.Length, out int offset);
            if (n < 0) continue;
            _input.AsSpan(offset, n).CopyTo(into.Span);
            return n;
        }
    }

    private ValueTask SendContinueAsync()
    {
        _continueSent = true;
        _exchange.Output.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
        return FlushAsync();
    }

    /// <summary>
    /// Takes the next body bytes already in the input buffer, at most <paramref name="max"/>: how many (they stay
    /// at <paramref name="offset"/> in the buffer until the next receive), 0 at the body's end, or -1 when more must
    /// be received first, or when the body is refused (<see cref="_bodyError"/> says why).
    /// </summary>
    private int TakeBody(int max, out int offset)
    {
        offset = _start;
        if (_bodyDone) return 0;
        if (_bodyError != RejectReason.None) return -1;
        if (!_exchange.Head.Chunked)
        {
            if (_exchange.Head.ContentLength > _bodyLimit) return Refuse(RejectReason.BodyTooLarge);
            int n = (int)Math.Min(Math.Min(_bodyLeft, _end - _start), max);
            if (n == 0) return -1;
            _start += n;
            _bodyTaken += n;
            _bodyDone = (_bodyLeft -= n) == 0;
            return n;
        }
        var status = _chunks.Decode(Buffered, out int consumed, out int dataStart, out int dataLength, max);
        if (status == ChunkStatus.Rejected) return Refuse(RejectReason.InvalidChunk);
        // A chunk's size line can tell the body will not fit before its bytes come: refused then, as a Content-Length is.
        if (_bodyTaken + dataLength + _chunks.PendingChunkBytes > _bodyLimit) return Refuse(RejectReason.BodyTooLarge);
        offset = _start + dataStart;
        _start += consumed;
        _bodyTaken += dataLength;
        _bodyDone = status == ChunkStatus.Done;
        return status == ChunkStatus.NeedMore ? -1 : dataLength;
    }

    private int Refuse(RejectReason reason)
    {
        _bodyError = reason;
        return -1;
    }

    /// <summary>
    /// Waits for more of the body. The client has the request timeout to send all of it, counted only while the
    /// connection waits: a body trickled a byte at a time gets no more time than one not sent, and an app that
    /// reads slowly does not use up its client's time.
    /// </summary>
    private async ValueTask<bool> ReceiveBodyAsync()
    {
        long began = Environment.TickCount64;
        _readPhase = Phase.ReadingBody;
        _readDeadline = began + _bodyWaitLeft;
        bool more = await ReceiveAsync(Phase.ReadingBody);
        _bodyWaitLeft -= Environment.TickCount64 - began;
        return more;
    }

    /// <summary>
    /// Whether the connection may go on to a next request past what the app left of its body: not after a refused
    /// body, nor after an unanswered 100-continue (the client may never send it), nor past <see cref="DrainLimit"/>.
    /// </summary>
    private bool BodyDrainable() => _bodyDone
        || (_bodyError == RejectReason.None && (_continueSent || !_exchange.Head.ExpectContinue) && (_exchange.Head.Chunked || _bodyLeft <= DrainLimit));

    /// <summary>Reads and drops the rest of a body the app did not read; false when the connection must close instead.</summary>
    private async ValueTask<bool> DrainBodyAsync()
    {
        long drained = 0;
        while (true)
        {
            int n = TakeBody(int.MaxValue, out _);
            if (n == 0) return true;
            if (n > 0 && (drained += n) <= DrainLimit) continue;
            if (n > 0 || _bodyError != RejectReason.None || !await ReceiveBodyAsync()) return false;
        }
    }
}
