using Prefork.Http.Loop;

namespace Prefork.Serving;

/// <summary>
/// The one request a sync worker runs at a time (gunicorn's sync worker). A connection holds the slot from
/// the moment its request head is whole until it closes; a client still sending its head does not, so slow
/// clients wait on the event loop, many at a time, as behind an accept filter, and never keep the worker
/// from the next whole request. The accept thread reserves the slot before it accepts, so the usual
/// connection, whose head arrives with it, is served at once and the worker accepts nothing while busy.
/// A connection that has sent nothing yet keeps the slot for a moment (<see cref="SilentGrace"/>): its
/// request is usually a packet behind its handshake, and giving the slot up at once would let this worker
/// accept the next connection too, while a sibling is idle.
/// </summary>
internal sealed class SyncSlot(object gate)
{
    public static readonly TimeSpan SilentGrace = TimeSpan.FromMilliseconds(100);
    private static readonly object Reserved = new();
    private object? _holder;
    // When the holder began waiting for its first bytes; 0 while it is not.
    private long _holderSilentSince;
    private readonly Queue<(object Who, TaskCompletionSource Turn)> _waiting = new();

    /// <summary>Nobody holds the slot or waits for it. Read under the gate.</summary>
    public bool IsFree => _holder == null && _waiting.Count == 0;

    /// <summary>The accept thread's claim, made under the gate, for the connection it is about to accept.</summary>
    public bool TryReserve()
    {
        bool silentTooLong = _holderSilentSince != 0 && _waiting.Count == 0
            && Environment.TickCount64 - _holderSilentSince >= (long)SilentGrace.TotalMilliseconds;
        if (!IsFree && !silentTooLong) return false;
        // A holder that stayed silent past the grace goes back to waiting like any slow client: its whole
        // head will queue for the slot.
        _holder = Reserved;
        _holderSilentSince = 0;
        return true;
    }

    /// <summary>The holder waits for its first bytes: the slot is its own for <see cref="SilentGrace"/> more.</summary>
    public void HolderSilent(object connection)
    {
        lock (gate)
        {
            if (_holder == connection && _holderSilentSince == 0) _holderSilentSince = Environment.TickCount64;
        }
    }

    /// <summary>Hands the reservation to the connection just accepted.</summary>
    public void Assign(object connection)
    {
        lock (gate)
        {
            if (_holder == Reserved) _holder = connection;
        }
    }

    public void CancelReservation() => Leave(Reserved);

    /// <summary>Completes when <paramref name="connection"/> holds the slot; at once when it already does or the slot is free.</summary>
    public ValueTask EnterAsync(object connection)
    {
        lock (gate)
        {
            if (_holder == connection)
            {
                _holderSilentSince = 0;
                return default;
            }
            if (_holder == null && _waiting.Count == 0)
            {
                _holder = connection;
                return default;
            }
            var turn = new TaskCompletionSource();
            _waiting.Enqueue((connection, turn));
            return new ValueTask(turn.Task);
        }
    }

    /// <summary>
    /// Gives the slot up, if <paramref name="connection"/> holds it, to the longest waiter. The waiter resumes
    /// from the event loop's queue, not inside this call: a chain of queued connections each finishing inside the
    /// last one's close would nest as deep as the queue is long.
    /// </summary>
    public void Leave(object connection)
    {
        TaskCompletionSource? next = null;
        lock (gate)
        {
            if (_holder != connection) return;
            _holderSilentSince = 0;
            if (_waiting.TryDequeue(out var waiter))
            {
                _holder = waiter.Who;
                next = waiter.Turn;
            }
            else
            {
                _holder = null;
                Monitor.PulseAll(gate);
            }
        }
        if (next != null) EventLoop.Shared.Post(static t => ((TaskCompletionSource)t!).SetResult(), next);
    }
}
