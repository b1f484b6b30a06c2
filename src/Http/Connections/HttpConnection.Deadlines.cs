using System.Net.Sockets;

namespace Prefork.Http;

/// <summary>
/// A connection's clock. Timeouts are kept by the host's one-second sweep (Kestrel's heartbeat), not by a timer
/// or a cancellation registration per read: each phase sets one deadline, and the sweep acts on the late.
/// </summary>
public sealed partial class HttpConnection
{
    /// <summary>
    /// Closes a connection that is idle between requests, to make room for a waiting client (nginx closes idle
    /// keep-alive connections the same way when it runs out of connections). Called on the event loop, so the
    /// connection cannot be half-way into its next request.
    /// </summary>
    public void CloseIdle()
    {
        // False when it closed in the meantime.
        if (IsIdle) _io.Shutdown(SocketShutdown.Both);
    }

    /// <summary>
    /// Called by the host's sweep once a second. A read past its deadline is ended by shutting down our
    /// receiving side (the pending read returns end of stream, and a 408 can still be sent); a write past its
    /// deadline, to a client that does not read, is ended by shutting down both sides (the pending write
    /// fails). The socket is closed only by the connection itself, never under one of its reads.
    /// True when the connection is inside a request (from its first byte until its response is written).
    /// </summary>
    public bool CheckDeadline(long now)
    {
        var phase = _phase;
        if (phase == Phase.Processing || now <= Interlocked.Read(ref _deadline)) return phase != Phase.Idle;
        // A shutdown finds the socket closed when the connection closed in the meantime.
        if (phase == Phase.Writing || _timedOut)
        {
            _timedOut = true;
            _io.Shutdown(SocketShutdown.Both);
            return true;
        }
        // A first miss: the 408 and the close that follow get a little time of their own.
        _timedOut = true;
        Interlocked.Exchange(ref _deadline, now + 2000);
        _io.Shutdown(SocketShutdown.Receive);
        return phase != Phase.Idle;
    }

    private void SetDeadline(Phase phase, long deadline)
    {
        Interlocked.Exchange(ref _deadline, deadline);
        _phase = phase;
    }
}
