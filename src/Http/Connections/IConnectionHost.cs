using Prefork.App;

namespace Prefork.Http;

/// <summary>What a connection needs from the server that accepted it.</summary>
public interface IConnectionHost
{
    HttpLimits Limits { get; }
    IHttpApp App { get; }
    /// <summary>
    /// False while the server drains, or for the sync class: the next response says "Connection: close". Keep-alive
    /// turned off altogether is the limits' to say (<see cref="HttpLimits.KeepAliveEnabled"/>).
    /// </summary>
    bool KeepAliveAllowed { get; }
    /// <summary>Whom to believe about a client's address and scheme (PROXY protocol, X-Forwarded-*); null: nobody, the socket's peer is the client.</summary>
    ProxyTrust? ProxyTrust => null;
    /// <summary>Who counts connections and requests and writes the access log; null: nobody (the master's metrics listener).</summary>
    ITrafficObserver? Traffic => null;
    void RequestServed();
    /// <summary>
    /// The connection now waits on its client (for a head, or while it lingers): a sync worker's slot may go to
    /// another, at once, or, when the client has sent nothing yet, after a moment.
    /// </summary>
    void WaitingForClient(HttpConnection connection, bool sentNothing) { }
    /// <summary>Completes when the connection may run its request: at once, except in a sync worker whose slot is busy.</summary>
    ValueTask AdmitAsync(HttpConnection connection) => default;
    void Closed(HttpConnection connection);
}
