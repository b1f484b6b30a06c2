using System.Diagnostics;

namespace Prefork.Worker.Http;

/// <summary>What a served request leaves behind: its counts in the worker's metrics and its access-log line.</summary>
public sealed partial class HttpConnection
{
    private long _requestStarted;

    /// <summary>A request's duration runs from its parsed head to its queued response.</summary>
    private void MarkRequestStart() => _requestStarted = Stopwatch.GetTimestamp();

    private void RequestCompleted(long bodyBytesOut)
    {
        long bytesIn = _head.Length + _request.Body.Length;
        _host.Metrics?.RequestDone(_head.Method, _response.StatusCode, bytesIn, bodyBytesOut, _requestStarted);
        _host.AccessLog?.Write(RemoteAddress, _request, _response.StatusCode, bodyBytesOut, _requestStarted);
    }

    /// <summary>A refused request counts by its status; its method may be unknown (a head that did not parse), so it counts as OTHER.</summary>
    private void RequestRejected(int status) =>
        _host.Metrics?.RequestDone(Method.Other, status, 0, _response.Body.Length, started: 0);
}
