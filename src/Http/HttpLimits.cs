namespace Prefork.Http;

/// <summary>
/// Limits on what a client may send and how long it may take, one object with named fields (Kestrel's
/// KestrelServerLimits, gunicorn's limit_request_*). Defaults follow gunicorn and nginx. Each default is a
/// constant here, the one place it is written: the command line's flags (Prefork.Master.Options) name these
/// constants, and a host without a command line (the master's metrics listener, tests) gets them from new().
/// </summary>
public sealed record HttpLimits
{
    public const int DefaultMaxRequestLine = 8190;
    public const int DefaultMaxHeaderFields = 100;
    public const int DefaultMaxHeaderFieldSize = 8190;
    public const long DefaultMaxBodySize = 1024 * 1024;
    public const int DefaultKeepAliveSeconds = 5;
    public const int DefaultRequestTimeoutSeconds = 30;

    /// <summary>Longest request line, in bytes, without its CRLF (gunicorn: 4094). Past it: 414.</summary>
    public int MaxRequestLine { get; init; } = DefaultMaxRequestLine;

    /// <summary>Most header fields in one request (gunicorn: 100). Past it: 431.</summary>
    public int MaxHeaderFields { get; init; } = DefaultMaxHeaderFields;

    /// <summary>Longest header field line, name and value (gunicorn: 8190). Past it: 431.</summary>
    public int MaxHeaderFieldSize { get; init; } = DefaultMaxHeaderFieldSize;

    /// <summary>Largest request body (nginx's client_max_body_size is 1 MiB). Past it: 413, before the body is read.</summary>
    public long MaxBodySize { get; init; } = DefaultMaxBodySize;

    /// <summary>All header field lines together (Kestrel: 32 KiB). Past it: 431. Bounds each connection's buffer.</summary>
    public int MaxHeadersTotalSize { get; init; } = 32 * 1024;

    /// <summary>How long an idle connection waits for its next request; zero turns keep-alive off (<see cref="KeepAliveEnabled"/>).</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(DefaultKeepAliveSeconds);

    /// <summary>Time a client has to send a whole request head, each part of a body, or to take a response.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(DefaultRequestTimeoutSeconds);

    /// <summary>The whole head, request line and header section, fits in this many bytes.</summary>
    public int MaxHeadSize => MaxRequestLine + 2 + MaxHeadersTotalSize + 2;

    /// <summary>The one place that says what a keep-alive of 0 means: every response closes its connection.</summary>
    public bool KeepAliveEnabled => KeepAlive > TimeSpan.Zero;

    /// <summary>
    /// How long a connection may wait for a request before it sends a byte of it. With keep-alive off no
    /// connection is ever kept idle: the only such wait is a new connection's wait for its first request,
    /// which then gets the request timeout rather than none at all.
    /// </summary>
    public TimeSpan IdleTimeout => KeepAliveEnabled ? KeepAlive : RequestTimeout;
}
