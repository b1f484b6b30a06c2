using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace Prefork.App;

/// <summary>The request as an application sees it. Strings are made only when asked for.</summary>
public sealed class HttpRequest
{
    private readonly RequestHead _head;
    // Null for a request made without a socket (an app called directly, in a test).
    private IClientConnection? _connection;
    private string? _method, _path, _query, _target, _requestId;
    private MemoryStream? _bodyStream;

    internal HttpRequest(RequestHead head, IClientConnection? connection = null)
    {
        _head = head;
        _connection = connection;
    }

    /// <summary>The connection the request came on; set for each request, since a request object serves many connections in turn.</summary>
    internal IClientConnection? Connection { set => _connection = value; }

    public Method Method => _head.Method;
    // A known method's name is a literal: no string per request, and the same (interned) object as ASP.NET Core's
    // HttpMethods.Get and the like, which routing compares by reference first.
    public string MethodName => _method ??= Method switch
    {
        Method.Get => "GET",
        Method.Head => "HEAD",
        Method.Post => "POST",
        Method.Put => "PUT",
        Method.Delete => "DELETE",
        Method.Options => "OPTIONS",
        Method.Trace => "TRACE",
        Method.Patch => "PATCH",
        Method.Connect => "CONNECT",
        _ => Encoding.ASCII.GetString(_head[_head.MethodText]),
    };
    /// <summary>The request target as sent: "/path?query" or an absolute URI.</summary>
    public string Target => _target ??= Encoding.ASCII.GetString(_head[_head.Target]);
    public string Path => _path ??= _head.Path.Length == 0 ? "/" : Encoding.ASCII.GetString(_head[_head.Path]);
    public ReadOnlySpan<byte> PathBytes => _head.Path.Length == 0 ? "/"u8 : _head[_head.Path];
    public string Query => _query ??= Encoding.ASCII.GetString(_head[_head.Query]);
    /// <summary>
    /// An absolute-form target's authority ("GET http://example.com:8080/a" → "example.com:8080"), else null. RFC 9112
    /// §3.2.2: it, not the Host field, names the host such a request is for.
    /// </summary>
    public string? Authority => _head.Authority.Length == 0 ? null : Encoding.ASCII.GetString(_head[_head.Authority]);
    public string Version => _head.VersionMinor == 1 ? "HTTP/1.1" : "HTTP/1.0";
    /// <summary>
    /// The whole request body: the connection reads it (de-chunked, within --limit-request-body) before the app
    /// runs. Empty for an app that streams its bodies (<see cref="IHttpApp.StreamsRequestBody"/>), which reads with
    /// <see cref="ReadBodyAsync"/> instead.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get; internal set; }

    /// <summary>True when the request has a body (a Content-Length above 0, or chunked), read yet or not.</summary>
    public bool HasBody => _head.HasBody;

    /// <summary>
    /// For an app that streams its bodies (<see cref="IHttpApp.StreamsRequestBody"/>): the next bytes of the body,
    /// de-chunked, as they arrive; 0 at its end. The first read that has to wait sends 100 Continue if the client
    /// asked for it. A body the server refuses (too large, malformed, too slow, cut short) throws an
    /// <see cref="IOException"/>, and the connection answers with its status if the response has not
    /// started, or ends if it has.
    /// </summary>
    public ValueTask<int> ReadBodyAsync(Memory<byte> buffer) => _connection?.ReadBodyAsync(buffer) ?? new(0);

    /// <summary>
    /// This request's body limit in bytes (--limit-request-body unless changed); null: none. It can change only
    /// until the body starts being read (<see cref="BodyStarted"/>), so only in an app that streams its bodies.
    /// </summary>
    public long? MaxBodySize
    {
        get => _connection?.MaxBodySize;
        set
        {
            if (_connection != null) _connection.MaxBodySize = value;
        }
    }

    /// <summary>True once the body has started being read: its limit is fixed from then on.</summary>
    public bool BodyStarted => _connection?.BodyStarted ?? true;

    /// <summary>The same body as a read-only stream, for APIs that take one (JsonSerializer, StreamReader); no copy.</summary>
    public Stream BodyStream => _bodyStream ??= MemoryMarshal.TryGetArray(Body, out var array)
        ? new MemoryStream(array.Array!, array.Offset, array.Count, writable: false)
        : new MemoryStream(Body.ToArray(), writable: false);

    /// <summary>
    /// The client's address and port; null on a Unix socket. Behind a trusted proxy (--proxy-protocol,
    /// --forwarded-allow-ips) the client it names, with port 0 when X-Forwarded-For gave none.
    /// </summary>
    public IPEndPoint? RemoteEndPoint => _connection?.RemoteEndPoint;
    /// <summary>
    /// "https" over TLS, else "http"; behind a trusted proxy, what its X-Forwarded-Proto says the client used, or
    /// "https" when its PROXY v2 header says the client reached it over TLS (HAProxy's send-proxy-v2-ssl).
    /// </summary>
    public string Scheme => _connection?.Scheme ?? "http";
    /// <summary>The address and port the client reached; null on a Unix socket.</summary>
    public IPEndPoint? LocalEndPoint => _connection?.LocalEndPoint;
    /// <summary>Names the connection, the same for each request it carries and unique among a server's live workers.</summary>
    public string ConnectionId => _connection?.ConnectionId ?? "";

    /// <summary>True when the request came to this server over TLS (what the client used is <see cref="Scheme"/>).</summary>
    public bool IsHttps => _connection?.IsHttps ?? false;

    /// <summary>Names this request: its connection's id and its number on the connection, for logs that trace one request.</summary>
    public string RequestId => _requestId ??= _connection == null ? "" : $"{_connection.ConnectionId}:{_connection.Requests:X8}";

    /// <summary>
    /// Fires when the client resets or closes the connection while the request runs, or when the app calls
    /// <see cref="Abort"/>. A client that only ended its sending side may still be reading: an app that answers
    /// all the same is heard; one that gives up (throws the token's cancellation) closes the connection unanswered.
    /// Made when first asked: a request that never asks costs nothing.
    /// </summary>
    public CancellationToken Aborted => _connection?.Aborted ?? CancellationToken.None;

    /// <summary>Resets the connection instead of answering: the client sees it end at once, and nothing more is sent.</summary>
    public void Abort() => _connection?.Abort();

    /// <summary>The client asks to switch protocols (a WebSocket handshake): the app may take it with <see cref="HttpResponse.UpgradeAsync"/>.</summary>
    public bool IsUpgradeRequest => _head.IsUpgrade;

    /// <summary>
    /// An app's own object kept with this request object, which the engine reuses for request after request, of
    /// one connection and then another (never reset between them): an app may keep here what it would otherwise
    /// make anew for each request, but nothing of one request's or one client's own.
    /// </summary>
    public object? AppState { get; set; }

    public int HeaderCount => _head.HeaderCount;
    public string HeaderName(int index) => Encoding.ASCII.GetString(_head.HeaderName(index));
    public string HeaderValue(int index) => Encoding.Latin1.GetString(_head.HeaderValue(index));

    /// <summary>The first field with this name (case-insensitive), or null.</summary>
    public string? GetHeader(string name)
    {
        for (int i = 0; i < _head.HeaderCount; i++)
        {
            if (Ascii.EqualsIgnoreCase(_head.HeaderName(i), name)) return HeaderValue(i);
        }
        return null;
    }

    /// <summary>One query parameter's raw value ("ms" in "/sleep?ms=200"), or null.</summary>
    public string? GetQueryParameter(string name)
    {
        foreach (var pair in Query.Split('&'))
        {
            int eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (key == name) return eq < 0 ? "" : pair[(eq + 1)..];
        }
        return null;
    }

    internal void Reset()
    {
        _method = _path = _query = _target = _requestId = null;
        _bodyStream = null;
        Body = default;
    }
}
