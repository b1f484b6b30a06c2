using System.Diagnostics;
using Prefork.Http.Loop;

namespace Prefork.Serving;

/// <summary>
/// An async worker accepts on its event loop, as nginx's workers do: a loop in the middle of a turn takes no
/// connection, and a new one costs no other thread's wake-up. Everything here runs on the loop thread.
/// For each connection the kernel wakes one worker waiting in epoll_wait (EPOLLEXCLUSIVE) and tells no worker behind
/// it, so a worker woken for a connection takes it: one that left it queued might leave it to nobody until the next
/// client comes. So the accept that fills a worker stops its watching (unless no sibling has room: then it makes room
/// when woken), rather than a wake-up it would decline. A worker that accepted goes to the back of the kernel's order
/// (<see cref="EventLoop.WatchLast"/>, at most every <see cref="MoveBackEvery"/>), or, when it holds clearly more connections than a sibling
/// (<see cref="Overloaded"/>), out of it until that sibling has caught up (<see cref="BalancePause"/> at most).
/// </summary>
public sealed partial class WorkerServer
{
    // More than a worker can have been told of alone: one connection per wait in epoll_wait, taken in the turn after it.
    private const int TakenWhenStopping = 16;
    // How long an overloaded worker stays out of the kernel's order for a sibling to catch up. Long enough for a woken
    // sibling to be scheduled on a busy machine: a pause of one loop turn, which is microseconds under load, left a
    // burst of 64 connections at 61/1/1/1 over 4 workers, and 2 ms at 52/7/4/1 while the test suite loaded the
    // machine. Short, since a connection that comes while the only other watching worker is held up by app code
    // waits for the pause to end.
    private static readonly long BalancePause = Stopwatch.Frequency / 100;
    // How often a worker that keeps accepting goes to the back of the kernel's order: on a quiet server every accept
    // (turns for the idle workers); under a stream of connections the workers that wait are the ones whose turn has
    // ended, and the kernel's choice among them spreads the load, so the two epoll_ctl calls the move costs are paid
    // once a millisecond rather than per connection.
    private static readonly long MoveBackEvery = Stopwatch.Frequency / 1000;
    private long _movedBackAt;
    // Full with none idle, and not watching until a connection closes or goes idle; read off the loop too.
    private volatile bool _waitingForRoom;
    // Not watching until the next tick (accept or epoll_ctl failed).
    private bool _acceptFailed;
    private int _pollTurn;
    private long _pausedUntil;

    private Action<int>? _connectionWaiting;

    private bool AcceptsOnLoop => _slot == null;

    /// <summary>From any thread: <see cref="StartWatching"/> on the loop.</summary>
    private void WatchFromLoop() => EventLoop.Shared.Post(static s => ((WorkerServer)s!).StartWatching(), this);

    private void StartWatching()
    {
        if (_draining || _acceptFailed) return;
        _waitingForRoom = false;
        if (!EventLoop.Shared.WatchListeners(_settings.ListenFds, _connectionWaiting ??= ConnectionWaiting)) _acceptFailed = true;
    }

    private void ConnectionWaiting(int listenFd)
    {
        if (_draining)
        {
            StopAccepting();
            return;
        }
        // Full, and watching because no sibling had room: an idle keep-alive connection makes room, as in nginx, and the
        // newcomer is taken at once (one over the limit until that close completes, a turn later). With none idle, the
        // worker waits for a close.
        if (OpenConnections >= Capacity && !CloseLongestIdle())
        {
            WaitForRoom();
            return;
        }
        if (!AcceptOne(listenFd)) return;
        if (OpenConnections >= Capacity && _scoreboard?.LeastLoadedSibling(_settings.ScoreboardSlot) != null)
        {
            WaitForRoom();
        }
        else if (Overloaded())
        {
            EventLoop.Shared.UnwatchListeners();
            _pausedUntil = Stopwatch.GetTimestamp() + BalancePause;
            EventLoop.Shared.AfterNextTurn(WatchOnceBalanced);
        }
        else if (Stopwatch.GetTimestamp() is var now && now - _movedBackAt >= MoveBackEvery)
        {
            _movedBackAt = now;
            if (!EventLoop.Shared.WatchLast(listenFd)) _acceptFailed = true;
        }
    }

    /// <summary>Looked at again after each next turn of the paused loop (a millisecond apart at most).</summary>
    private void WatchOnceBalanced()
    {
        if (Overloaded() && Stopwatch.GetTimestamp() < _pausedUntil) EventLoop.Shared.AfterNextTurn(WatchOnceBalanced);
        else StartWatching();
    }

    private void WaitForRoom()
    {
        EventLoop.Shared.UnwatchListeners();
        _waitingForRoom = true;
    }

    private bool AcceptOne(int listenFd)
    {
        int fd = Native.Accept(listenFd, out int errno, out long peer);
        if (fd < 0)
        {
            // Another worker took it (EAGAIN); or EMFILE and friends: the connection stays queued, and the tick tries again.
            if (errno == Native.EAGAIN || errno == Native.EINTR) return false;
            Log.Warning($"accept failed: errno {errno}");
            _acceptFailed = true;
            EventLoop.Shared.UnwatchListeners();
            return false;
        }
        Adopt(fd, peer, listenFd, reserved: false, onLoop: true);
        return true;
    }

    /// <summary>
    /// Stops watching for good, and takes what is queued at that moment: the kernel may have woken this worker alone
    /// for some of it. What it takes is served like any connection of a draining worker.
    /// </summary>
    private void StopAccepting()
    {
        EventLoop.Shared.UnwatchListeners();
        foreach (int listenFd in _settings.ListenFds)
        {
            for (int i = 0; i < TakenWhenStopping && OpenConnections < Capacity && AcceptOne(listenFd); i++) { }
        }
    }

    /// <summary>
    /// On the loop's tick: watches again after a failed accept, or while waiting for room (should the close or the idle
    /// connection that makes it have come first: a client still waiting then wakes it, and it makes room). And a worker with room takes a connection left waiting: one a sibling was woken for when it
    /// was full with nothing idle, which the kernel told nobody else of.
    /// </summary>
    private void RetryAccepting()
    {
        if (_acceptFailed || _waitingForRoom)
        {
            _acceptFailed = false;
            StartWatching();
        }
        else if (!_waitingForRoom && !_draining && Native.WaitForConnection(_settings.ListenFds, TimeSpan.Zero, ref _pollTurn) is var listenFd and >= 0)
        {
            ConnectionWaiting(listenFd);
        }
    }

    /// <summary>On the loop: stops watching for good, and takes what may wait for this worker alone (<see cref="StopAccepting"/>).</summary>
    private Task StopAcceptingOnLoop()
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        EventLoop.Shared.Post(static s =>
        {
            var (server, done) = ((WorkerServer, TaskCompletionSource))s!;
            server.StopAccepting();
            done.SetResult();
        }, (this, stopped));
        return stopped.Task;
    }
}
