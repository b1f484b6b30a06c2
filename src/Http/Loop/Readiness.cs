namespace Prefork.Http.Loop;

/// <summary>
/// One direction of a socket (reading or writing) as the event loop sees it: whether a syscall may succeed,
/// and the one operation waiting to hear when it may. The loop counts the edges it has seen; the connection
/// notes the count it saw before the syscall that found nothing to do. While no edge came since, another
/// try is pointless, so the connection waits without one. The waiter is armed, then the count re-read; the
/// loop counts, then disarms: whichever comes second sees the other, so an edge is never missed.
/// Once the peer has closed (or the socket failed), the direction stays ready for good: a read that came
/// back short may still have an end of stream behind it, which only one more read returns (nginx's pending_eof).
/// A struct inside its socket, which it tells to go on by what it returns: no object, no delegate, no back reference
/// per direction (those were an idle connection's largest objects once).
/// </summary>
internal struct Readiness()
{
    private long _edges;
    private long _drainedAt = -1;
    private int _armed;
    private volatile bool _finished;

    /// <summary>The count to pass to <see cref="Drained"/> if the syscall about to be made finds nothing.</summary>
    public long Edges => Volatile.Read(ref _edges);

    public bool MayBeReady => Volatile.Read(ref _edges) != _drainedAt || _finished;

    /// <summary>A syscall made after <paramref name="edges"/> edges found the socket empty (or full).</summary>
    public void Drained(long edges) => _drainedAt = edges;

    /// <summary>
    /// Waits for the next edge, which <see cref="Signal"/> will report; true when the wait is over already (there
    /// was an edge since the socket was last found drained) and the caller goes on at once, on its own thread.
    /// </summary>
    public bool Arm()
    {
        Interlocked.Exchange(ref _armed, 1);
        return MayBeReady && Interlocked.Exchange(ref _armed, 0) == 1;
    }

    /// <summary>The loop saw an edge (<paramref name="final"/>: the peer closed, or an error); true when a wait was armed, which the loop now ends.</summary>
    public bool Signal(bool final)
    {
        if (final) _finished = true;
        Interlocked.Increment(ref _edges);
        return Interlocked.Exchange(ref _armed, 0) == 1;
    }
}
