using System.Net;
using Prefork.App;

namespace Prefork.Http;

/// <summary>
/// Who the client really is, when a proxy stands between: the PROXY protocol header that starts the connection
/// (read on the raw connection, before any HTTP byte; it may say the client used TLS), and each request's
/// X-Forwarded-For and X-Forwarded-Proto, believed only from the peers the host's <see cref="ProxyTrust"/> names.
/// </summary>
public sealed partial class HttpConnection
{
    // Refusals are logged as a warning at most once a minute per worker, the rest at debug: a proxy left without
    // send-proxy, or a scanner, would otherwise write a line per connection.
    private const long RefusalWarningEveryMs = 60_000;
    private static long _nextRefusalWarning;

    private IPEndPoint? _forwardedClient;
    private string? _forwardedAddress;
    private string? _forwardedScheme;
    private bool? _peerForwards;
    private bool _proxiedTls;

    /// <summary>
    /// What a trusted proxy's X-Forwarded-Proto said the client used, else "https" over TLS, to this server or (as
    /// the PROXY header says: HAProxy's send-proxy-v2-ssl) to the proxy, and "http" without.
    /// </summary>
    public string Scheme => _forwardedScheme ?? (IsHttps || _proxiedTls ? "https" : "http");

    /// <summary>
    /// Reads the PROXY header, within the request timeout, and takes the client's address from it; false when the
    /// connection is to close: the peer may not send one, or what it sent is not one (both logged and counted).
    /// </summary>
    private async ValueTask<bool> ReadProxyHeaderAsync(ProxyTrust trust)
    {
        // On a Unix socket the peer has no address: whoever may open the socket file may speak for clients (gunicorn).
        var peer = _io.RemoteEndPoint;
        if (peer != null && !trust.ProxyAllowFrom.Contains(peer.Address))
        {
            Refused(peer, "the peer is not in --proxy-allow-from");
            return false;
        }
        ProxyHeader header;
        while ((header = ProxyHeaderParser.TryParse(Buffered)).Status == ParseStatus.Incomplete)
        {
            var receiving = ReceiveAsync(Phase.ReadingHead);
            if (!receiving.IsCompleted) _host.WaitingForClient(this, sentNothing: _start == _end);
            if (await receiving) continue;
            if (_timedOut || _start != _end) Refused(peer, _timedOut ? "no whole PROXY header within the request timeout" : "the connection ended inside the PROXY header");
            return false;
        }
        if (header.Status == ParseStatus.Rejected)
        {
            Refused(peer, header.Error.Describe());
            return false;
        }
        _start += header.Consumed;
        _proxiedTls = header.ClientTls;
        if (header.Source != null)
        {
            _remoteEndPoint = header.Source;
            _remoteAddress = null;
        }
        return true;
    }

    /// <summary>Counts the refusal (prefork_client_errors_total{kind="proxy_header"}, a late header's timeout included) and logs it.</summary>
    private void Refused(IPEndPoint? peer, string why)
    {
        _traffic?.ClientFailed(ClientError.ProxyHeader);
        var message = $"PROXY header refused from {peer?.ToString() ?? "a Unix socket"}: {why}; connection closed";
        long now = Environment.TickCount64, next = Interlocked.Read(ref _nextRefusalWarning);
        bool warn = now >= next && Interlocked.CompareExchange(ref _nextRefusalWarning, now + RefusalWarningEveryMs, next) == next;
        Log.Write(warn ? Log.Level.Warning : Log.Level.Debug, warn ? message + " (more within a minute: at debug level)" : message);
    }

    /// <summary>
    /// Takes the client's address and scheme from the request's X-Forwarded-For and X-Forwarded-Proto when the
    /// peer (the client a PROXY header named, when there was one) is trusted; otherwise they change nothing.
    /// </summary>
    private void ApplyForwardedHeaders()
    {
        _forwardedClient = null;
        _forwardedAddress = _forwardedScheme = null;
        // A request without the headers (nearly all of them) costs one look at its field names, and its connection
        // never has to look its peer up.
        if (_host.ProxyTrust is not { } trust || !ForwardedHeaders.AnyIn(_exchange.Head)) return;
        // On a Unix socket the peer has no address and is trusted, as gunicorn trusts it (nginx on the same machine).
        _peerForwards ??= (_remoteEndPoint ??= _io.RemoteEndPoint) is not { } peer || trust.ForwardedAllowIps.Contains(peer.Address);
        if (!_peerForwards.Value) return;
        _forwardedClient = ForwardedHeaders.Client(_exchange.Head, trust.ForwardedAllowIps);
        _forwardedScheme = ForwardedHeaders.Scheme(_exchange.Head);
    }
}
