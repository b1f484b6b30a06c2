using Prefork.App;

namespace Prefork.Http;

/// <summary>What a connection needs from the server that accepted it.</summary>
public interface IConnectionHost
{
    HttpLimits Limits { get; }
    IHttpApp App { get; }
    TimeSpan KeepAlive { get; }
    /// <summary>How long a client may take to send a request head, each part of a body, or to read a response.</summary>
    TimeSpan RequestTimeout { get; }
    /// <summary>False while the server drains, or for the sync class: the next response says "Connection: close".</summary>
    bool KeepAliveAllowed { get; }
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
