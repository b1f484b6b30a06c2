using Prefork.App;

namespace Prefork.Http;

/// <summary>
/// What a host learns of the traffic a connection carries: the worker counts it (its metrics) and logs it
/// (its access log). Called on the event loop, in the connection's own path: it must be quick and must not block.
/// </summary>
public interface ITrafficObserver
{
    void ConnectionOpened();
    void ClientFailed(ClientError kind);
    /// <summary>The app answered a request; <paramref name="started"/> is the <see cref="System.Diagnostics.Stopwatch"/> timestamp of its parsed head.</summary>
    void RequestCompleted(HttpConnection connection, HttpRequest request, int status, long bytesIn, long bytesOut, long started);
    /// <summary>The server refused a request with <paramref name="status"/> (its method may be unknown: a head that did not parse).</summary>
    void RequestRejected(int status, long bytesOut);
}
