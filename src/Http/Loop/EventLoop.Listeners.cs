using System.Runtime.InteropServices;

namespace Prefork.Http.Loop;

/// <summary>
/// The listening sockets on the loop, as nginx's workers watch theirs: the loop that takes a connection is one
/// that has nothing else to do at that moment, and nothing else wakes for it. All of this runs on the loop thread.
/// </summary>
public sealed partial class EventLoop
{
    private const int EPOLL_CTL_DEL = 2;
    // Every worker's epoll set holds the same listening socket: exclusive, a connection wakes one worker that
    // waits in epoll_wait (or one more, should it come back to wait meanwhile), not every worker.
    private const uint EPOLLEXCLUSIVE = 1u << 28;
    private const int MaxListeners = 64;
    // The epoll data of listening socket i is ListenerData - i, which no socket's slot and generation can be.
    private const ulong ListenerData = WakeData - 1;

    private int[] _listenFds = [];
    private Action<int>? _connectionWaiting;
    private bool _watching;
    private readonly List<Action> _afterNextTurn = [];
    private long _turns, _afterTurn;

    /// <summary>
    /// Watches <paramref name="listenFds"/> (non-blocking) until <see cref="UnwatchListeners"/>: each turn that finds a
    /// connection waiting in one of them calls <paramref name="connectionWaiting"/> with it (level-triggered: once a
    /// turn, while one waits). Loop thread only; false, and nothing watched, when the kernel refuses.
    /// </summary>
    public bool WatchListeners(int[] listenFds, Action<int> connectionWaiting)
    {
        if (listenFds.Length > MaxListeners) throw new ArgumentException($"at most {MaxListeners} listening sockets");
        if (_watching) return true;
        _listenFds = listenFds;
        _connectionWaiting = connectionWaiting;
        for (int i = 0; i < listenFds.Length; i++)
        {
            if (!Control(EPOLL_CTL_ADD, listenFds[i], EPOLLIN | EPOLLEXCLUSIVE, ListenerData - (ulong)i))
            {
                for (int j = 0; j < i; j++) Control(EPOLL_CTL_DEL, listenFds[j], 0, 0);
                return false;
            }
        }
        _watching = true;
        return true;
    }

    /// <summary>Stops watching the listening sockets; a connection already reported in this turn is not passed on.</summary>
    public void UnwatchListeners()
    {
        if (!_watching) return;
        _watching = false;
        foreach (var fd in _listenFds) Control(EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// <summary>
    /// Puts this loop last among those the kernel wakes for <paramref name="listenFd"/>'s next connection (exclusive
    /// waiters are woken in the order they were added): the idle workers then take connections in turn, as blocked
    /// acceptors do, rather than the first one taking every connection of a quiet server. False, and nothing watched,
    /// when the kernel refuses.
    /// </summary>
    public bool WatchLast(int listenFd)
    {
        int i = Array.IndexOf(_listenFds, listenFd);
        if (!_watching || i < 0) return true;
        if (Control(EPOLL_CTL_DEL, listenFd, 0, 0) && Control(EPOLL_CTL_ADD, listenFd, EPOLLIN | EPOLLEXCLUSIVE, ListenerData - (ulong)i)) return true;
        _watching = false;
        foreach (var fd in _listenFds) if (fd != listenFd) Control(EPOLL_CTL_DEL, fd, 0, 0);
        return false;
    }

    /// <summary>
    /// Runs <paramref name="action"/> once the loop has waited once more (for at most a millisecond) and handled what
    /// that wait returned: a sibling worker has had its chance to run meanwhile. Loop thread only.
    /// </summary>
    public void AfterNextTurn(Action action)
    {
        _afterNextTurn.Add(action);
        _afterTurn = _turns;
    }

    private void ListenerReady(ulong data)
    {
        int i = (int)(ListenerData - data);
        if (_watching && i < _listenFds.Length) _connectionWaiting!(_listenFds[i]);
    }

    private static bool IsListener(ulong data) => data <= ListenerData && data > ListenerData - MaxListeners;

    private void RunAfterTurn()
    {
        _turns++;
        if (_afterNextTurn.Count == 0 || _turns <= _afterTurn + 1) return;
        // An action may ask again for the turn after (a paused worker looks again): that one waits.
        int due = _afterNextTurn.Count;
        for (int i = 0; i < due; i++) _afterNextTurn[i]();
        _afterNextTurn.RemoveRange(0, due);
    }

    private bool Control(int op, int fd, uint events, ulong data)
    {
        if (EpollControl(op, fd, events, data)) return true;
        Log.Warning($"epoll_ctl({op}) on listening socket {fd} failed: errno {Marshal.GetLastPInvokeError()}");
        return false;
    }
}
