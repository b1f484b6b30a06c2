using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Prefork.App;
using Prefork.Http.Loop;
using Prefork.Http.Tls;

namespace Prefork.Http;

/// <summary>
/// One client connection, read top to bottom: read a head, read its body (or let the app read it as it runs),
/// run the app, write the response, and go round again while the connection is kept alive. Requests on a connection are served in order, so
/// pipelined responses leave in the order their requests came.
/// </summary>
public sealed partial class HttpConnection
{
    // Queued: a whole head waits for a sync worker's slot; no client deadline runs while the server makes it wait.
    private enum Phase { Idle, ReadingHead, ReadingBody, Queued, Processing, Writing }

    private readonly LoopSocket _io;
    // The bytes' way in and out: the socket itself, or TLS over it once the handshake is done (HttpConnection.Tls.cs).
    private IConnectionTransport _transport;
    private readonly IConnectionHost _host;
    private readonly ITrafficObserver? _traffic;
    private readonly HttpLimits _limits;
    // The request in hand and its buffers: taken when a turn starts, given back when the connection parks or closes.
    private Exchange _exchange = null!;
    private const int InputSize = 4096;
    // Rented when bytes come, given back when the connection goes idle (ReleaseBuffers).
    private byte[] _input = [];
    private int _start, _end;

    // The clock: see HttpConnection.Deadlines.cs.
    private volatile Phase _phase;
    private long _deadline = long.MaxValue;
    private volatile bool _timedOut;
    private Phase _readPhase = Phase.Processing;
    private long _readDeadline;
    private long _idleSince;

    /// <summary>A connection on an accepted, non-blocking socket, which it closes when done.</summary>
    /// <param name="tls">Set for a connection accepted on a TLS listener: it starts with a handshake.</param>
    public HttpConnection(SocketHandle socket, IConnectionHost host, TlsServer? tls = null)
    {
        _io = new LoopSocket(socket, EventLoop.Shared) { Peer = this };
        _transport = _io;
        _tlsServer = tls;
        _host = host;
        _traffic = host.Traffic;
        _limits = host.Limits;
    }

    /// <summary>A connection on a socket accepted by .NET's own <see cref="Socket"/>, whose descriptor it takes over.</summary>
    public static HttpConnection Of(Socket socket, IConnectionHost host, TlsServer? tls = null)
    {
        socket.Blocking = false;
        nint fd = socket.SafeHandle.DangerousGetHandle();
        // The Socket is dropped here: neither it nor its handle may close the descriptor the connection now owns.
        socket.SafeHandle.SetHandleAsInvalid();
        return new HttpConnection(new SocketHandle(fd), host, tls);
    }

    private ReadOnlySpan<byte> Buffered => _input.AsSpan(_start, _end - _start);

    /// <summary>True while the app runs a request on this connection.</summary>
    public bool IsProcessing => _phase == Phase.Processing;

    /// <summary>A kept-alive connection between requests with nothing of the next one received. Read on the event loop.</summary>
    public bool IsIdle => _phase == Phase.Idle && _start == _end && _io.Available == 0;

    /// <summary>When the connection last went idle (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>).</summary>
    public long IdleSince => _idleSince;

    /// <summary>
    /// Starts the connection from the thread that accepted it. All of a connection's code runs on the event loop,
    /// as in nginx (a blocking app stops the loop, and with it the heartbeat, every time, not only when a request
    /// happens to arrive after a wait): its socket joins the loop here, and the connection starts at the socket's
    /// first event, which comes at once (a new socket is writable), so no wake-up of the loop is spent on handing
    /// it over. A socket that cannot join here tries again from the loop, where a failure ends the connection.
    /// </summary>
    public void Start()
    {
        try
        {
            _io.Open(startOnFirstEvent: true);
        }
        catch (InvalidOperationException)
        {
            EventLoop.Shared.Post(static c => _ = ((HttpConnection)c!).RunAsync(), this);
        }
    }

    /// <summary>
    /// Serves the connection from its start, on the calling thread until it first waits (<see cref="Start"/> runs it
    /// on the loop). The task completes when the connection closes, or when it goes idle: an idle connection waits
    /// for its next request in no async method at all (<see cref="Park"/>), and the client's next bytes start
    /// another turn.
    /// </summary>
    public Task RunAsync()
    {
        _traffic?.ConnectionOpened();
        return TurnAsync(opening: true);
    }

    /// <summary>One turn of the connection: its requests until it closes or parks idle.</summary>
    private async Task TurnAsync(bool opening)
    {
        bool parked = false;
        _exchange = Exchange.Take(this);
        try
        {
            if (opening)
            {
                if (!_io.IsOpen) _io.Open();
                if (_host.ProxyTrust is { ProxyProtocol: true } trust && !await ReadProxyHeaderAsync(trust)) return;
                if (_tlsServer != null && !await StartTlsAsync()) return;
            }
            parked = await ServeAsync();
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // The client went away or was timed out: it costs this connection and nothing else, and says so
            // quietly, or any client could flood the log. (An app's own I/O error was logged where it was thrown.)
            if (IsClientFailure(e)) ClientFailed(e);
        }
        catch (Exception e)
        {
            Log.Error($"Connection failed: {e}");
        }
        finally
        {
            // A parked connection may be in its next turn already, on the loop: this one touches nothing more.
            if (!parked) Close();
        }
    }

    private void Close()
    {
        _tls?.Dispose();
        _io.Dispose();
        ReleaseBuffers();
        // A connection handed to the app as another protocol may be in the app's hands still.
        if (!_upgraded) _exchange.Return();
        _exchange = null!;
        _host.Closed(this);
    }

    /// <summary>The connection's requests, in order; true when it parked idle, false when it is to close.</summary>
    private async Task<bool> ServeAsync()
    {
        while (true)
        {
            _readPhase = Phase.Processing;
            ParseResult parsed;
            while ((parsed = RequestParser.TryParseHead(Buffered, _limits, _exchange.Head)).Status == ParseStatus.Incomplete)
            {
                var waiting = _start == _end ? Phase.Idle : Phase.ReadingHead;
                if (waiting == Phase.Idle)
                {
                    if (_exchange.Output.Length > 0) await FlushAsync();
                    if (Park()) return true;
                }
                var receiving = ReceiveAsync(waiting);
                // Only a whole head holds a sync worker's slot: while this client is slow, another may run.
                if (!receiving.IsCompleted) _host.WaitingForClient(this, sentNothing: waiting == Phase.Idle);
                if (!await receiving)
                {
                    if (waiting == Phase.ReadingHead && _timedOut) await RejectAsync(RejectReason.RequestTimeout);
                    return false;
                }
            }
            if (parsed.Status == ParseStatus.Rejected)
            {
                await RejectAsync(parsed.Reason);
                return false;
            }
            var admitted = _host.AdmitAsync(this);
            if (!admitted.IsCompleted)
            {
                SetDeadline(Phase.Queued, long.MaxValue);
                await admitted;
            }

            _exchange.Head.CopyFrom(Buffered[..parsed.Consumed]);
            _start += parsed.Consumed;
            ApplyForwardedHeaders();
            MarkRequestStart();
            _exchange.Request.Reset();
            _exchange.Response.Reset();

            BeginBody();
            var bodyError = _exchange.Head.HasBody && !_host.App.StreamsRequestBody ? await ReadWholeBodyAsync() : RejectReason.None;
            if (bodyError != RejectReason.None)
            {
                await RejectAsync(bodyError);
                return false;
            }

            if (!await RunAppAsync()) return false;
            // What the app left of its body is read past, so the next request starts where it should. (Here, not
            // in RunAppAsync, whose state machine a request may box: this one is boxed once a connection.)
            if (!_bodyDone && !(BodyDrainable() && await DrainBodyAsync()))
            {
                await CloseGracefullyAsync(linger: true);
                return false;
            }
        }
    }

    /// <summary>Runs the app for the parsed request and queues its response; false when the connection is to close.</summary>
    private async ValueTask<bool> RunAppAsync()
    {
        _phase = Phase.Processing;
        _requests++;
        bool bodyRefused = false, gaveUp = false;
        RenewAborted();
        try
        {
            var pending = _host.App.HandleAsync(_exchange.Request, _exchange.Response);
            // A slow handler must not hold back responses already queued for pipelined requests. One that waits on
            // the connection itself (a body read, a send) has flushed them, and its wait has the phase and deadline.
            if (!pending.IsCompleted && _phase == Phase.Processing && _exchange.Output.Length > 0)
            {
                await FlushAsync();
                _phase = Phase.Processing;
            }
            await pending;
        }
        catch (Exception) when (_clientGone || _aborted)
        {
            // What the app was doing when the connection was reset or aborted no longer has anyone to tell.
        }
        catch (OperationCanceledException) when (_clientFinished)
        {
            // The app gave up on its request when the client closed its side: the client gets no answer (it may
            // have read the earlier ones of a pipeline), and the app did nothing wrong.
            gaveUp = true;
        }
        catch (Exception) when (_bodyError != RejectReason.None)
        {
            // The app stopped on a body the engine refused: the client's fault, answered below as any refused request.
            bodyRefused = true;
        }
        catch (Exception e) when (!IsClientFailure(e))
        {
            Log.Error($"Error handling \"{_exchange.Request.MethodName} {_exchange.Request.Target} {_exchange.Request.Version}\": {e}");
            // Once the head is out, a 500 can no longer be sent: the truncated response ends with the connection.
            if (_exchange.Response.HasStarted) throw;
            _exchange.Response.Reset();
            _exchange.Response.Send(500, "text/plain", "500 Internal Server Error\n");
            _exchange.Response.Close = true;
        }
        _host.RequestServed();
        if (_upgraded)
        {
            // The app is done with the new protocol (its end may have looked like a reset): no HTTP follows.
            RequestCompleted(0);
            return false;
        }
        if (EndedInAbort()) return false;
        if (gaveUp)
        {
            Log.Debug($"Connection from {RemoteAddress} closed by the client while its request ran; the app gave up");
            if (!_exchange.Response.HasStarted) await CloseGracefullyAsync(linger: false);
            return false;
        }
        if (bodyRefused)
        {
            if (!_exchange.Response.HasStarted)
            {
                await RejectAsync(_bodyError);
                return false;
            }
            // Once the head is out nothing can say the body was refused: the response ends cut short, with the connection.
            Log.Debug($"Connection from {RemoteAddress} cut: {_bodyError.Describe()} after the response started");
            return false;
        }

        bool keepAlive;
        if (_exchange.Response.HasStarted)
        {
            keepAlive = FinishStreaming();
        }
        else
        {
            keepAlive = KeepAliveWanted() && BodyDrainable();
            WriteBuffered(ref keepAlive);
        }
        RequestCompleted(_exchange.Head.Method == Method.Head ? 0 : _streamed);
        if (!keepAlive)
        {
            // Linger only when the client may still be sending: otherwise close at once, so a sync worker's
            // single slot is free for the next connection straight away. A client that asked to close and has sent
            // its whole request sends nothing more (RFC 9112 §9.6): the socket need not be asked.
            await CloseGracefullyAsync(linger: _start != _end || (!(_bodyDone && !ClientKeepsAlive) && _io.Available > 0));
            return false;
        }
        if (_exchange.Output.Length > HttpResponse.BufferLimit) await FlushAsync();
        return true;
    }

    /// <summary>RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".</summary>
    private bool ClientKeepsAlive => _exchange.Head.VersionMinor == 1 ? !_exchange.Head.ConnectionClose : _exchange.Head.ConnectionKeepAlive;

    private bool KeepAliveWanted() =>
        ClientKeepsAlive && !_exchange.Response.Close && _limits.KeepAliveEnabled && _host.KeepAliveAllowed;

    /// <summary>A body that stopped coming: 408 if the client is merely slow, nothing if it has gone.</summary>
    private RejectReason BodyCutShort() =>
        _timedOut ? RejectReason.RequestTimeout : throw new EndOfStreamException("client closed the connection mid-request");

    /// <summary>Answers a request the server refuses, then closes: after a framing error nothing that follows can be trusted.</summary>
    private async Task RejectAsync(RejectReason reason)
    {
        int status = reason.StatusCode();
        Log.Debug($"Rejected request: {status} {reason.Describe()}");
        _exchange.Response.Reset();
        _exchange.Response.Send(status, "text/plain", $"{status} {ResponseWriter.ReasonPhrase(status)}: {reason.Describe()}\n");
        ResponseWriter.Write(_exchange.Output, _exchange.Response, _exchange.Head.Method == Method.Head, keepAlive: false, http10: false);
        RequestRejected(status);
        // The refused request may have a body still on its way: linger so it does not turn our answer into a reset.
        // Not for a client that has used up its time: lingering would give a slowloris seconds more of the
        // connection slot (a sync worker's only one) after its 408.
        await CloseGracefullyAsync(linger: reason != RejectReason.RequestTimeout);
    }
}
