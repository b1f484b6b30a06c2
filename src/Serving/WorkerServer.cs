using System.Collections.Concurrent;
using System.Net.Sockets;
using Prefork.App;
using Prefork.Control;
using Prefork.Http;
using Prefork.Http.Loop;
using Prefork.Http.Tls;

namespace Prefork.Serving;

/// <summary>
/// The worker's serving side: accepting on every inherited listening socket, the set of open connections, and the
/// drain. A worker takes a connection off the shared backlog only when it has room for it, so a busy worker leaves
/// new connections to its idle siblings: an async worker accepts on its event loop, between turns, while it holds
/// fewer than --worker-connections (WorkerServer.LoopAccept.cs); a sync worker on a thread of its own, while its one
/// slot (<see cref="SyncSlot"/>) is free (WorkerServer.AcceptThread.cs). What the sync worker's accept thread and the
/// drain touch is made to be shared: the room under <c>_gate</c>, the scoreboard, and the connection table
/// (concurrent: a connection whose app awaited real work goes on, and may close, on a pool thread).
/// </summary>
public sealed partial class WorkerServer : IConnectionHost
{
    // How often the sync worker's wait for a connection, or for room, wakes to see whether the worker is draining.
    private static readonly TimeSpan AcceptPoll = TimeSpan.FromMilliseconds(250);
    // Longer than a handshake takes on any network a server is drained on.
    private static readonly TimeSpan HandshakeGrace = TimeSpan.FromMilliseconds(200);

    private readonly WorkerSettings _settings;
    private readonly ConcurrentDictionary<HttpConnection, byte> _connections = new();
    // The table's size, kept beside it: it is read on every accept and close, and ConcurrentDictionary.Count takes every
    // one of the table's locks (one per core).
    private int _open;
    // Guards the room: the connection count as the accept thread sees it, and the sync slot.
    private readonly object _gate = new();
    private readonly SyncSlot? _slot;
    private readonly Thread _acceptThread;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _retire = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _maxRequests;
    private readonly Scoreboard? _scoreboard;
    private long _requests;
    private long _servedAtLastTick;
    private volatile bool _draining;
    private volatile bool _acceptStopped;
    private bool _takeBacklog;
    private long _drainDeadline;

    public WorkerServer(WorkerSettings settings, IHttpApp app)
    {
        _settings = settings;
        App = app;
        _slot = settings.Class == WorkerClass.Sync ? new SyncSlot(_gate) : null;
        _maxRequests = settings.RequestsBeforeRetiring();
        _scoreboard = settings.ScoreboardFd >= 0 ? Scoreboard.Open(settings.ScoreboardFd) : null;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "accept" };
    }

    public IHttpApp App { get; }
    public ITrafficObserver? Traffic { get; init; }
    /// <summary>The certificate the listeners in <see cref="WorkerSettings.TlsListenFds"/> serve; read as the worker booted.</summary>
    public TlsServer? Tls { get; init; }
    public HttpLimits Limits => _settings.Limits;
    public ProxyTrust ProxyTrust => _settings.ProxyTrust;
    // gunicorn's sync workers do not keep connections alive: one client must not hold the only slot.
    public bool KeepAliveAllowed => !_draining && _slot == null;
    public long RequestsServed => Interlocked.Read(ref _requests);
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Completes when the worker has served its --max-requests and should be replaced; it serves on until told to stop.</summary>
    public Task Retire => _retire.Task;

    /// <summary>
    /// Asked once a tick, before the heartbeat: true when a sync worker is inside a request and has finished none since
    /// the last tick, so one request that runs past --timeout gets the worker killed. Requests that follow one another
    /// are progress: a worker always inside some short request at the tick must still beat (gunicorn's sync worker
    /// notifies between requests).
    /// </summary>
    public bool StuckSinceLastTick()
    {
        long served = RequestsServed;
        bool progressed = served != _servedAtLastTick;
        _servedAtLastTick = served;
        return _slot != null && !progressed && _connections.Any(c => c.Key.IsProcessing);
    }

    // A sync worker runs one request at a time, but may hold this many connections still sending their heads.
    private int Capacity => _settings.MaxConnections;

    public void Start()
    {
        foreach (var fd in _settings.ListenFds) Native.SetNonBlocking(fd);
        if (AcceptsOnLoop) WatchFromLoop();
        else _acceptThread.Start();
    }

    /// <summary>
    /// Called by the loop's tick: enforces connection deadlines and keeps this worker's scoreboard slot fresh.
    /// True when any connection is inside a request.
    /// </summary>
    public bool Sweep()
    {
        long now = Environment.TickCount64;
        bool busy = false;
        // The dictionary itself, not its Keys, which copies them all (an array of 10,000 each second) under every lock.
        foreach (var (connection, _) in _connections) busy |= connection.CheckDeadline(now);
        PublishLoad();
        if (AcceptsOnLoop) RetryAccepting();
        return busy;
    }

    // The slot is read without the gate: the scoreboard is a hint, refreshed at every change.
    private void PublishLoad() =>
        _scoreboard?.Publish(_settings.ScoreboardSlot, OpenConnections,
            accepting: !_draining && OpenConnections < Capacity && (_slot?.IsFree ?? true));

    /// <summary>
    /// Graceful stop. The accept path stops for good first: at once when a sibling stays to take the queue
    /// (reload, scale-down, --max-requests), or, when the whole server stops, only once this worker has taken
    /// every connection still queued, since closing the socket would reset them. Then every connection accepted
    /// finishes its request (each is told "Connection: close"); idle keep-alive connections close at their
    /// keep-alive timeout, so a request already on its way is still answered. True when all were answered
    /// before <paramref name="timeout"/>.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, bool takeBacklog)
    {
        Volatile.Write(ref _drainDeadline, Environment.TickCount64 + (long)timeout.TotalMilliseconds);
        _takeBacklog = takeBacklog;
        BeginDraining();
        var deadline = Task.Delay(timeout);
        if (AcceptsOnLoop)
        {
            // A loop held up by app code until the deadline accepts nothing more either (it sees the drain before it
            // looks at a socket), and its sockets close with the process.
            if (await Task.WhenAny(StopAcceptingOnLoop(), deadline) != deadline)
                await Task.WhenAny(Task.Factory.StartNew(FinishAccepting, TaskCreationOptions.LongRunning), deadline);
        }
        else
        {
            // The accept thread may be inside its wait for up to AcceptPoll, and what it takes then is served too.
            await Task.WhenAny(Task.Run(_acceptThread.Join), deadline);
        }
        _acceptStopped = true;
        if (_connections.IsEmpty) _drained.TrySetResult();
        await Task.WhenAny(_drained.Task, deadline);
        return _connections.IsEmpty;
    }

    public void RequestServed()
    {
        // The worker goes on serving as before: the master stops it once its replacement is ready, so capacity
        // never dips, however long the replacement takes to boot (an ASP.NET Core app's second or more).
        if (Interlocked.Increment(ref _requests) == _maxRequests) _retire.TrySetResult();
    }

    private void BeginDraining()
    {
        if (_draining) return;
        _draining = true;
        PublishLoad();
        lock (_gate) Monitor.PulseAll(_gate);
    }

    public void Closed(HttpConnection connection)
    {
        if (_connections.TryRemove(connection, out _)) Interlocked.Decrement(ref _open);
        if (_slot != null)
        {
            // Only a sync worker's accept thread waits on the gate, for room.
            _slot.Leave(connection);
            lock (_gate) Monitor.PulseAll(_gate);
        }
        PublishLoad();
        if (_waitingForRoom) WatchFromLoop();
        // Only once the accept path has stopped can an empty table mean the drain is done.
        if (_acceptStopped && _connections.IsEmpty) _drained.TrySetResult();
    }

    public void WaitingForClient(HttpConnection connection, bool sentNothing)
    {
        // An idle connection is room for a full worker's waiting client (ConnectionWaiting closes it).
        if (sentNothing && _waitingForRoom) WatchFromLoop();
        if (sentNothing) _slot?.HolderSilent(connection);
        else _slot?.Leave(connection);
    }

    public ValueTask AdmitAsync(HttpConnection connection) => _slot?.EnterAsync(connection) ?? default;

    /// <summary>Takes what is still queued if this worker is the last to go (<see cref="TakeBacklog"/>), and lets go of the sockets.</summary>
    private void FinishAccepting()
    {
        var listenFds = _settings.ListenFds;
        try
        {
            if (Volatile.Read(ref _takeBacklog)) TakeBacklog(listenFds);
        }
        finally
        {
            // Once no worker holds the socket, the kernel refuses new clients at once instead of queueing them
            // for nobody; the master closes its copy when the whole server stops.
            foreach (var fd in listenFds) new SafeSocketHandle(fd, ownsHandle: true).Dispose();
        }
    }

    /// <summary>
    /// Runs on the event loop, where no connection can be between its idle wait and its next request. False when none
    /// is idle.
    /// </summary>
    private bool CloseLongestIdle()
    {
        HttpConnection? longest = null;
        foreach (var (connection, _) in _connections)
        {
            if (connection.IsIdle && (longest == null || connection.IdleSince < longest.IdleSince)) longest = connection;
        }
        if (longest == null) return false;
        Log.Debug($"Worker full ({OpenConnections} connections): closing the longest idle keep-alive connection for a waiting client");
        longest.CloseIdle();
        return true;
    }

    /// <summary>
    /// The whole server is stopping: no sibling will take what is still queued, and closing the socket would
    /// reset it, so take every queued connection until the queue is empty (a sync worker answers them one
    /// after another), bounded by the graceful timeout and the worker's connection limit. Unless another server
    /// accepts on the socket too, it is sealed first (<see cref="ListenerSeal"/>): otherwise the clients this
    /// drain tells "Connection: close" reconnect into the queue as fast as it empties, and whoever is in it when
    /// the last copy closes is reset. A handshake the seal let through may still be on its way: the queue counts
    /// as empty once it stayed so for <see cref="HandshakeGrace"/>.
    /// </summary>
    private void TakeBacklog(int[] listenFds)
    {
        bool sealedAny = false;
        if (_scoreboard is { ListenersShared: false })
        {
            foreach (var fd in listenFds) sealedAny |= ListenerSeal.TrySeal(fd);
        }
        var grace = sealedAny ? HandshakeGrace : TimeSpan.Zero;
        int turn = 0, taken = 0;
        while (Environment.TickCount64 < Volatile.Read(ref _drainDeadline) && OpenConnections < Capacity)
        {
            int listenFd = Native.WaitForConnection(listenFds, TimeSpan.Zero, ref turn);
            if (listenFd < 0) listenFd = Native.WaitForConnection(listenFds, grace, ref turn);
            if (listenFd < 0) break;
            int fd = Accept(listenFd, out long peer);
            if (fd < 0) continue;
            Adopt(fd, peer, listenFd, reserved: false, onLoop: false);
            taken++;
        }
        if (taken > 0) Log.Info($"Took {taken} queued connection(s) before closing the listening socket");
    }

    private int Accept(int listenFd, out long peer)
    {
        int fd = Native.Accept(listenFd, out int errno, out peer);
        if (fd < 0 && errno != Native.EAGAIN && errno != Native.EINTR)
        {
            // EMFILE and friends: back off instead of spinning; the connection stays in the backlog.
            Log.Warning($"accept failed: errno {errno}");
            Thread.Sleep(AcceptPoll);
        }
        return fd;
    }

    /// <param name="peer">The client's IPv4 address as accept gave it (Native.Accept), or 0.</param>
    /// <param name="onLoop">True when called on the event loop, where the connection starts at once.</param>
    private void Adopt(int fd, long peer, int listenFd, bool reserved, bool onLoop)
    {
        var tls = Tls != null && _settings.TlsListenFds.Contains(listenFd) ? Tls : null;
        var connection = new HttpConnection(new SocketHandle(fd, peer), this, tls);
        _connections.TryAdd(connection, 0);
        Interlocked.Increment(ref _open);
        if (reserved) _slot?.Assign(connection);
        PublishLoad();
        if (onLoop) _ = connection.RunAsync();
        else connection.Start();
    }

    /// <summary>
    /// True while a sibling holds clearly fewer connections than this worker: the next connection should be that
    /// sibling's (see <see cref="Scoreboard"/>). "Clearly" is nginx's accept_disabled in spirit: more than an eighth of
    /// what this worker holds, and at least 2, so the constant small swings of short connections never cost a pause.
    /// </summary>
    private bool Overloaded()
    {
        int mine = OpenConnections;
        return _scoreboard?.LeastLoadedSibling(_settings.ScoreboardSlot) is { } least && mine > least + Math.Max(2, mine / 8);
    }
}
