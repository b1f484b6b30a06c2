using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Prefork.App;

/// <summary>
/// The response an application fills in. A small body is buffered and sent with Content-Length in one write.
/// A larger one streams: once <see cref="WriteAsync"/> passes the buffer (or the app calls
/// <see cref="FlushAsync"/> or <see cref="SendFileAsync"/>), the head goes out with Content-Length if the app
/// set <see cref="ContentLength"/>, else chunked (RFC 9112 §7.1). The connection adds Date, Server and
/// Connection, and never sends a body for HEAD.
/// </summary>
public sealed class HttpResponse
{
    private readonly List<KeyValuePair<string, string>> _headers = new();

    /// <summary>Bodies up to this size are buffered whole; past it the response streams.</summary>
    public const int BufferLimit = 64 * 1024;

    internal HttpResponse(OutputBuffer body, IResponseSink? sink = null)
    {
        Body = body;
        Sink = sink;
    }

    /// <summary>Where the body goes: the connection of the request being answered (a response object serves many in turn).</summary>
    internal IResponseSink? Sink { private get; set; }
    private string? _reasonPhrase;

    public int StatusCode { get; set; } = 200;

    /// <summary>The status line's reason phrase; unset, the usual one for the status. Clients ignore it (RFC 9112 §4).</summary>
    public string? ReasonPhrase
    {
        get => _reasonPhrase;
        set => _reasonPhrase = value == null || IsReasonPhrase(value) ? value
            : throw new ArgumentException("a reason phrase holds tabs, spaces and visible characters only", nameof(value));
    }

    public string? ContentType { get; set; }
    /// <summary>Set to close the connection after this response.</summary>
    public bool Close { get; set; }
    /// <summary>The body's length, when the app knows it before streaming; unset, a streamed body is chunked.</summary>
    public long? ContentLength { get; set; }
    /// <summary>True once the head has been sent: status and headers can no longer change.</summary>
    public bool HasStarted { get; internal set; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;
    internal OutputBuffer Body { get; }

    public void AddHeader(string name, string value) => _headers.Add(new(name, value));

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (HasStarted) throw new InvalidOperationException("the response is streaming: use WriteAsync");
        CheckStatedLength(Body.Length, bytes.Length);
        Body.Write(bytes);
    }

    /// <summary>Adds to the body; buffered while it is small, streamed to the client after that.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        if (!HasStarted) CheckStatedLength(Body.Length, bytes.Length);
        if (!HasStarted && Body.Length + bytes.Length <= BufferLimit)
        {
            Body.Write(bytes.Span);
            return default;
        }
        return Sink!.WriteBodyAsync(bytes);
    }

    /// <summary>Sends the head and what is buffered now, for a body produced over time.</summary>
    public ValueTask FlushAsync() => Sink!.WriteBodyAsync(ReadOnlyMemory<byte>.Empty);

    /// <summary>
    /// Sends part of a file straight from the page cache (sendfile), without copying it through the worker (over TLS,
    /// which sendfile cannot encrypt, it is read and encrypted).
    /// </summary>
    public ValueTask SendFileAsync(SafeFileHandle file, long offset, long count) => Sink!.SendFileAsync(file, offset, count);

    /// <summary>
    /// Takes an upgrade request (<see cref="HttpRequest.IsUpgradeRequest"/>): sends 101 Switching Protocols with the
    /// headers set so far (the connection adds "Connection: upgrade") and hands over the connection as a stream of
    /// the raw bytes both ways. No HTTP follows on it: the connection closes when the app returns, or earlier
    /// when the stream is disposed.
    /// </summary>
    public ValueTask<Stream> UpgradeAsync() => Sink!.UpgradeAsync();

    public void Write(string text)
    {
        if (HasStarted) throw new InvalidOperationException("the response is streaming: use WriteAsync");
        if (ContentLength != null) CheckStatedLength(Body.Length, Encoding.UTF8.GetByteCount(text));
        Body.WriteUtf8(text);
    }

    /// <summary>Status, content type and body in one call, for the common case.</summary>
    public void Send(int status, string contentType, string body)
    {
        StatusCode = status;
        ContentType = contentType;
        Body.Clear();
        Write(body);
    }

    /// <summary>405, with the Allow field RFC 9110 §15.5.6 requires: the methods this resource does take.</summary>
    public void SendMethodNotAllowed(string allowed)
    {
        Send(405, "text/plain", "405 Method Not Allowed\n");
        AddHeader("Allow", allowed);
    }

    /// <summary>
    /// Kestrel's rule: a write that would take the body past the Content-Length the app stated fails, and sends
    /// nothing (a body shorter than stated is caught when the response ends).
    /// </summary>
    internal void CheckStatedLength(long written, long adding)
    {
        if (ContentLength is { } stated && written + adding > stated)
        {
            throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({written + adding} of {stated}).");
        }
    }

    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); a CR or LF would end the line early.
    private static bool IsReasonPhrase(string text)
    {
        foreach (char c in text)
        {
            if (c != '\t' && (c < ' ' || c == '\x7f' || c > '\xff')) return false;
        }
        return true;
    }

    internal void Reset()
    {
        StatusCode = 200;
        _reasonPhrase = null;
        ContentType = null;
        Close = false;
        ContentLength = null;
        HasStarted = false;
        _headers.Clear();
        Body.Clear();
    }
}
