namespace Prefork.Http.Loop;

/// <summary>What the event loop tells a socket's owner beside readiness: its first event, the peer's FIN, and a broken connection.</summary>
internal interface IPeerEvents
{
    /// <summary>
    /// The socket's first event, for a socket that joined the loop from another thread asking to start there
    /// (<see cref="LoopSocket.Open"/>): the owner starts now, on the loop.
    /// </summary>
    void Started();

    /// <summary>
    /// The peer has said it will send no more (EPOLLRDHUP: its FIN), maybe more than once. Bytes it sent
    /// before may still be unread.
    /// </summary>
    void PeerFinished();

    /// <summary>
    /// The connection broke (EPOLLERR or EPOLLHUP: a reset, or both directions shut). An end of stream alone is
    /// not this: a client that half-closes may still be waiting for its answer.
    /// </summary>
    void Broken();
}
