namespace Prefork.Http;

/// <summary>
/// Limits on what a client may send, one object with named fields (Kestrel's KestrelServerLimits, gunicorn's
/// limit_request_*). Defaults follow gunicorn and nginx.
/// </summary>
public sealed record HttpLimits
{
    /// <summary>Longest request line, in bytes, without its CRLF (gunicorn: 4094). Past it: 414.</summary>
    public int MaxRequestLine { get; init; } = 8190;

    /// <summary>Most header fields in one request (gunicorn: 100). Past it: 431.</summary>
    public int MaxHeaderFields { get; init; } = 100;

    /// <summary>Longest header field line, name and value (gunicorn: 8190). Past it: 431.</summary>
    public int MaxHeaderFieldSize { get; init; } = 8190;

    /// <summary>Largest request body (nginx's client_max_body_size is 1 MiB). Past it: 413, before the body is read.</summary>
    public long MaxBodySize { get; init; } = 1024 * 1024;

    /// <summary>All header field lines together (Kestrel: 32 KiB). Past it: 431. Bounds each connection's buffer.</summary>
    public int MaxHeadersTotalSize { get; init; } = 32 * 1024;

    /// <summary>The whole head, request line and header section, fits in this many bytes.</summary>
    public int MaxHeadSize => MaxRequestLine + 2 + MaxHeadersTotalSize + 2;
}
