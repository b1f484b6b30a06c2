using System.Diagnostics;
using System.Net.Sockets;

namespace Prefork.Http;

/// <summary>What a served request leaves behind: its counts and its access-log line, through the host's <see cref="ITrafficObserver"/>.</summary>
public sealed partial class HttpConnection
{
    private long _requestStarted;

    /// <summary>A request's duration runs from its parsed head to its queued response.</summary>
    private void MarkRequestStart() => _requestStarted = Stopwatch.GetTimestamp();

    private void RequestCompleted(long bodyBytesOut)
    {
        long bytesIn = _exchange.Head.Length + _bodyTaken;
        _traffic?.RequestCompleted(this, _exchange.Request, _exchange.Response.StatusCode, bytesIn, bodyBytesOut, _requestStarted);
    }

    /// <summary>A refused request counts by its status; its method may be unknown (a head that did not parse), so it counts as OTHER.</summary>
    private void RequestRejected(int status) => _traffic?.RequestRejected(status, _exchange.Response.Body.Length);

    /// <summary>The client's side failed: it reset, stopped reading, ran out of time, or closed mid-request.</summary>
    private bool IsClientFailure(Exception e) => _timedOut || e is SocketException or ConnectionLostException or EndOfStreamException;

    /// <summary>One debug line and a count: a client-side failure is the client's business, not the operator's.</summary>
    private void ClientFailed(Exception e)
    {
        var kind = _timedOut ? ClientError.Timeout : ClientErrorOf(e);
        _traffic?.ClientFailed(kind);
        Log.Debug($"Connection from {RemoteAddress} ended by the client: {kind.Label()} ({e.Message})");
    }

    private static ClientError ClientErrorOf(Exception e) => e switch
    {
        ConnectionLostException { Errno: 104 } => ClientError.Reset,
        ConnectionLostException { Errno: 32 } => ClientError.BrokenPipe,
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => ClientError.Reset,
        SocketException { SocketErrorCode: SocketError.Shutdown } => ClientError.BrokenPipe,
        SocketException { SocketErrorCode: SocketError.TimedOut } => ClientError.Timeout,
        _ => ClientError.Other,
    };
}
