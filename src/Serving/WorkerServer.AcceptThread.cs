using System.Diagnostics;

namespace Prefork.Serving;

/// <summary>
/// A sync worker accepts on a thread of its own: its one request runs on the loop and may hold it for as long as the
/// app takes, while the slot (<see cref="SyncSlot"/>) decides when the next connection may come in. The thread takes
/// the slot first, then waits for a connection; so a sync worker inside a request leaves new clients to its siblings.
/// </summary>
public sealed partial class WorkerServer
{
    private const int SpinsBeforeWait = 35;

    private void AcceptLoop()
    {
        int turn = 0;
        while (!_draining) AcceptOne(_settings.ListenFds, ref turn);
        FinishAccepting();
    }

    private void AcceptOne(int[] listenFds, ref int turn)
    {
        if (!TakeRoom()) return;
        int listenFd = Native.WaitForConnection(listenFds, AcceptPoll, ref turn);
        int fd = -1;
        long peer = 0;
        if (listenFd >= 0)
        {
            YieldToLessLoadedSibling();
            fd = Accept(listenFd, out peer);
        }
        if (fd < 0)
        {
            lock (_gate) _slot!.CancelReservation();
            return;
        }
        Adopt(fd, peer, listenFd, reserved: true, onLoop: false);
    }

    /// <summary>True when the slot was free and is now reserved, and there is room for one more connection; otherwise waits a moment.</summary>
    private bool TakeRoom()
    {
        // A sync worker's request is often done in microseconds: spin a little before sleeping on the gate, as
        // SemaphoreSlim does, so the next accept does not pay a sleep and a wake-up.
        var spinner = new SpinWait();
        for (int i = 0; i < SpinsBeforeWait && !_slot!.IsFree; i++) spinner.SpinOnce(sleep1Threshold: -1);
        lock (_gate)
        {
            if (OpenConnections < Capacity && _slot!.TryReserve()) return true;
            // A silent holder's grace ends without an event: look again when it may have.
            if (!_draining) Monitor.Wait(_gate, SyncSlot.SilentGrace);
            return false;
        }
    }

    /// <summary>
    /// While a sibling holds clearly fewer connections (<see cref="Overloaded"/>), stay out of accept() for a moment so
    /// that sibling takes the connection. The pause yields the CPU rather than sleeping (a sleep is a millisecond at
    /// least, which short connections feel) and ends after a millisecond, so a sibling that is slow to run costs little,
    /// never a connection.
    /// </summary>
    private void YieldToLessLoadedSibling()
    {
        long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 1000;
        while (Overloaded() && Stopwatch.GetTimestamp() < deadline)
        {
            if (!Thread.Yield()) Thread.SpinWait(100);
        }
    }
}
