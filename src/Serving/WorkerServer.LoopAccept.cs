using Prefork.Http.Loop;

namespace Prefork.Serving;

/// <summary>
/// An async worker accepts on its event loop, as nginx's workers do: a loop in the middle of a turn takes no
/// connection, and a new one costs no other thread's wake-up. Everything here runs on the loop thread.
/// The kernel wakes one waiting worker per connection (EPOLLEXCLUSIVE), and a worker that accepted goes to the back
/// of the kernel's order (<see cref="EventLoop.WatchLast"/>). Beyond that, a worker that holds clearly more
/// connections than a sibling stops watching for one turn and leaves the connection to that sibling
/// (<see cref="Overloaded"/>), and takes it after that turn if it is still there.
/// </summary>
public sealed partial class WorkerServer
{
    // Not watching until a connection closes, or the next tick (full); read by Closed, which may run on a pool thread.
    private volatile bool _waitingForRoom;
    // Not watching until the next tick (accept or epoll_ctl failed).
    private bool _acceptFailed;
    // The last waiting connection was left to a less loaded sibling for a turn: the next one is taken regardless.
    private bool _leftOneToSibling;

    private bool AcceptsOnLoop => _slot == null;

    private void StartWatching()
    {
        // A full worker watches too: the connection that is waiting is what tells it to make room (ConnectionWaiting).
        if (_draining || _acceptFailed) return;
        _waitingForRoom = false;
        if (!EventLoop.Shared.WatchListeners(_settings.ListenFds, ConnectionWaiting)) _acceptFailed = true;
    }

    private void StopWatching(bool untilRoom = false)
    {
        EventLoop.Shared.UnwatchListeners();
        if (untilRoom) _waitingForRoom = true;
    }

    private void ConnectionWaiting(int listenFd)
    {
        if (_draining)
        {
            StopWatching();
            return;
        }
        if (_connections.Count >= Capacity)
        {
            // nginx's answer when a worker is out of connections and the client has nowhere else to go.
            if (_scoreboard?.LeastLoadedSibling(_settings.Number) == null) CloseLongestIdle();
            StopWatching(untilRoom: true);
            return;
        }
        if (!_leftOneToSibling && Overloaded())
        {
            _leftOneToSibling = true;
            StopWatching();
            EventLoop.Shared.AfterNextTurn(StartWatching);
            return;
        }
        int fd = Native.Accept(listenFd, out int errno, out long peer);
        if (fd < 0)
        {
            // Another worker took it (EAGAIN); or EMFILE and friends: the connection stays queued, and the tick tries again.
            if (errno == Native.EAGAIN || errno == Native.EINTR) return;
            Log.Warning($"accept failed: errno {errno}");
            _acceptFailed = true;
            StopWatching();
            return;
        }
        _leftOneToSibling = false;
        if (!EventLoop.Shared.WatchLast(listenFd)) _acceptFailed = true;
        Adopt(fd, peer, listenFd, reserved: false, onLoop: true);
    }

    /// <summary>On the loop's tick: watches again after a failed accept, or once there is room (should the close that made it have come first).</summary>
    private void RetryAccepting()
    {
        if (!_acceptFailed && !_waitingForRoom) return;
        _acceptFailed = false;
        StartWatching();
    }

    /// <summary>On the loop: stops watching for good, and hands what is still queued to the drain.</summary>
    private Task StopAcceptingOnLoop()
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        EventLoop.Shared.Post(static s =>
        {
            var (server, done) = ((WorkerServer, TaskCompletionSource))s!;
            server.StopWatching();
            done.SetResult();
        }, (this, stopped));
        return stopped.Task;
    }
}
