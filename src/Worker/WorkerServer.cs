using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Prefork.Worker.Http;

namespace Prefork.Worker;

/// <summary>
/// The worker's serving side: the accept thread (for every inherited listening socket), the set of open
/// connections, and the drain. A worker takes a connection off the shared backlog only when it has room for
/// it, so a busy worker leaves new connections to its idle siblings; a sync worker has room for one.
/// </summary>
public sealed class WorkerServer : IConnectionHost
{
    // How often a blocked accept wakes to see whether the worker is draining.
    private static readonly TimeSpan AcceptPoll = TimeSpan.FromMilliseconds(250);
    // When the server stops, connections already in the backlog are still taken for this long, so none is reset.
    private static readonly TimeSpan BacklogDrain = TimeSpan.FromSeconds(1);

    private readonly WorkerSettings _settings;
    private readonly ConcurrentDictionary<HttpConnection, byte> _connections = new();
    private readonly SemaphoreSlim _room;
    private readonly Thread _acceptThread;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _retire = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _maxRequests;
    private readonly Scoreboard? _scoreboard;
    private long _requests;
    private volatile bool _draining;
    private long _stopAcceptingAt = long.MaxValue;

    public WorkerServer(WorkerSettings settings, IHttpApp app, AccessLog? accessLog)
    {
        _settings = settings;
        App = app;
        AccessLog = accessLog;
        _room = new SemaphoreSlim(Capacity, Capacity);
        _maxRequests = settings.MaxRequests <= 0 ? long.MaxValue
            : settings.MaxRequests + Random.Shared.Next(settings.MaxRequestsJitter + 1);
        _scoreboard = settings.ScoreboardFd >= 0 ? Scoreboard.Open(settings.ScoreboardFd) : null;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "accept" };
    }

    public IHttpApp App { get; }
    public AccessLog? AccessLog { get; }
    public WorkerMetrics? Metrics { get; init; }
    public HttpLimits Limits => _settings.Limits;
    public TimeSpan KeepAlive => _settings.KeepAlive;
    public TimeSpan RequestTimeout => _settings.RequestTimeout;
    // gunicorn's sync workers do not keep connections alive: one client must not hold the only slot.
    public bool KeepAliveAllowed => !_draining && _settings.Class == WorkerClass.Async && _settings.KeepAlive > TimeSpan.Zero;
    public long RequestsServed => Interlocked.Read(ref _requests);
    public int OpenConnections => _connections.Count;

    /// <summary>Completes when the worker has served its --max-requests and should be replaced.</summary>
    public Task Retire => _retire.Task;

    /// <summary>A sync worker inside a request is not turning its loop: it sends no heartbeat until the request ends.</summary>
    public bool Stuck => _settings.Class == WorkerClass.Sync && _connections.Keys.Any(c => c.IsProcessing);

    private int Capacity => _settings.Class == WorkerClass.Sync ? 1 : _settings.MaxConnections;

    public void Start()
    {
        foreach (var fd in _settings.ListenFds) Native.SetAcceptTimeout(fd, AcceptPoll);
        _acceptThread.Start();
    }

    /// <summary>Called once a second: enforces connection deadlines and keeps this worker's scoreboard slot fresh.</summary>
    public void Sweep()
    {
        long now = Environment.TickCount64;
        foreach (var connection in _connections.Keys) connection.CheckDeadline(now);
        PublishLoad();
    }

    private void PublishLoad() =>
        _scoreboard?.Publish(_settings.Number, _connections.Count, accepting: !_draining && _connections.Count < Capacity);

    /// <summary>
    /// Graceful stop: accept nothing more (when the whole server stops, first take what is already in the
    /// backlog, for a moment, so none of it is reset); let every open connection finish its request (each
    /// is told "Connection: close"), and give up at the deadline. Idle keep-alive connections close at
    /// their keep-alive timeout, so a request already on its way is still answered.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, bool takeBacklog)
    {
        BeginDraining(takeBacklog);
        _acceptThread.Join();
        if (_connections.IsEmpty) _drained.TrySetResult();
        await Task.WhenAny(_drained.Task, Task.Delay(timeout));
        return _connections.IsEmpty;
    }

    public void RequestServed()
    {
        if (Interlocked.Increment(ref _requests) != _maxRequests) return;
        // From this response on, every connection is told to close and nothing new is accepted, even before
        // the stop itself gets to run.
        BeginDraining(takeBacklog: false);
        _retire.TrySetResult();
    }

    private void BeginDraining(bool takeBacklog)
    {
        if (_draining) return;
        long stopAccepting = Environment.TickCount64 + (takeBacklog ? (long)BacklogDrain.TotalMilliseconds : 0);
        Interlocked.Exchange(ref _stopAcceptingAt, stopAccepting);
        _draining = true;
        PublishLoad();
    }

    public void Closed(HttpConnection connection)
    {
        _connections.TryRemove(connection, out _);
        _room.Release();
        PublishLoad();
        if (_draining && _connections.IsEmpty) _drained.TrySetResult();
    }

    /// <summary>
    /// While a sibling holds clearly fewer connections, stay out of accept() for a moment so the kernel hands
    /// the next connection to that sibling instead (see <see cref="Scoreboard"/>). "Clearly" is nginx's
    /// accept_disabled in spirit: more than an eighth of what this worker holds, and at least 2, so the
    /// constant small swings of short connections never cost a pause. The pause yields the CPU rather than
    /// sleeping (a sleep is a millisecond at least, which short connections feel) and ends after a
    /// millisecond, so a sibling that is slow to run costs little, never a connection.
    /// </summary>
    private void YieldToLessLoadedSibling()
    {
        long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 1000;
        while (Overloaded() && Stopwatch.GetTimestamp() < deadline)
        {
            if (!Thread.Yield()) Thread.SpinWait(100);
        }
    }

    private bool Overloaded()
    {
        int mine = _connections.Count;
        return _scoreboard?.LeastLoadedSibling(_settings.Number) is { } least && mine > least + Math.Max(2, mine / 8);
    }

    private void AcceptLoop()
    {
        var listenFds = _settings.ListenFds;
        int turn = 0;
        while (true)
        {
            if (!_room.Wait(AcceptPoll))
            {
                if (_draining && Environment.TickCount64 > Interlocked.Read(ref _stopAcceptingAt)) return;
                continue;
            }
            int listenFd = NextListener(listenFds, ref turn);
            if (listenFd < 0)
            {
                _room.Release();
                // Draining: only what is already queued, and only for a moment; then the thread ends.
                if (_draining) return;
                continue;
            }
            if (!_draining) YieldToLessLoadedSibling();
            int fd = Native.Accept(listenFd, out int errno);
            if (fd < 0)
            {
                _room.Release();
                if (errno != Native.EAGAIN && errno != Native.EINTR)
                {
                    // EMFILE and friends: back off instead of spinning; the connection stays in the backlog.
                    Log.Warning($"accept failed: errno {errno}");
                    Thread.Sleep(AcceptPoll);
                }
                continue;
            }
            var connection = new HttpConnection(new Socket(new SafeSocketHandle(fd, ownsHandle: true)), this);
            _connections.TryAdd(connection, 0);
            PublishLoad();
            EventLoop.Shared.Post(static c => _ = ((HttpConnection)c!).RunAsync(), connection);
        }
    }

    /// <summary>
    /// The listening socket to accept on next, or -1 for none yet. With one, accept itself blocks, and Linux
    /// wakes blocked acceptors in turn, which spreads connections evenly. With several, wait until one has a
    /// connection: a blocked accept on a quiet listener would hold the room (a sync worker's only one) while
    /// another listener's connections wait.
    /// </summary>
    private int NextListener(int[] listenFds, ref int turn)
    {
        if (_draining)
        {
            return Environment.TickCount64 > Interlocked.Read(ref _stopAcceptingAt) ? -1
                : Native.WaitForConnection(listenFds, TimeSpan.Zero, ref turn);
        }
        return listenFds.Length == 1 ? listenFds[0] : Native.WaitForConnection(listenFds, AcceptPoll, ref turn);
    }
}
