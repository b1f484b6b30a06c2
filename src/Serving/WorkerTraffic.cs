using Prefork.App;
using Prefork.Http;

namespace Prefork.Serving;

/// <summary>What this worker does with the traffic its connections report: counts all of it, logs each answered request.</summary>
public sealed class WorkerTraffic(WorkerMetrics metrics, AccessLog? accessLog) : ITrafficObserver
{
    public void ConnectionOpened() => metrics.ConnectionOpened();

    public void ClientFailed(ClientError kind) => metrics.ClientFailed(kind);

    public void RequestCompleted(HttpConnection connection, HttpRequest request, int status, long bytesIn, long bytesOut, long started)
    {
        metrics.RequestDone(request.Method, status, bytesIn, bytesOut, started);
        accessLog?.Write(connection.RemoteAddress, request, status, bytesOut, started);
    }

    /// <summary>A refused request counts as OTHER: its method may be unknown. It is not access-logged (the debug log has it).</summary>
    public void RequestRejected(int status, long bytesOut) => metrics.RequestDone(Method.Other, status, 0, bytesOut, started: 0);
}
