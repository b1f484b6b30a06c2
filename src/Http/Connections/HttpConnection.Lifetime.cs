using System.Net.Sockets;
using Prefork.Http.Loop;

namespace Prefork.Http;

/// <summary>
/// A request's lifetime as its app may watch it: a token that fires when the client closes or resets the
/// connection, or when the app aborts it. A client's FIN fires it too (as in Kestrel and IIS: a browser leaving
/// a page closes, it does not reset), but only a reset or an abort is the end: a client that merely half-closed
/// after its request still gets the answer if the app gives one (RFC 9112 §9.6 lets it half-close); an app that
/// gives up on the token gets its connection closed, with no answer. The token's source is made when an app first asks for it and reused by the
/// connection's next requests (Kestrel pools its own the same way), so a request nobody watches costs nothing.
/// </summary>
public sealed partial class HttpConnection : IPeerEvents
{
    private CancellationTokenSource? _abortSource;
    // Set on the loop when the connection broke, or by the app's Abort; for good: nothing more reaches this client.
    private volatile bool _clientGone, _aborted;
    // Set on the loop at the client's FIN: it will send nothing more, and may no longer be waiting.
    private volatile bool _clientFinished;

    public CancellationToken Aborted
    {
        get
        {
            var source = Volatile.Read(ref _abortSource);
            if (source != null) return source.Token;
            var created = new CancellationTokenSource();
            source = Interlocked.CompareExchange(ref _abortSource, created, null) ?? created;
            // Published before the flags are read, and ClientGone sets its flag before it looks for a source:
            // whichever runs second cancels.
            if (_clientGone || _aborted || _clientFinished) FireAborted(source);
            return source.Token;
        }
    }

    /// <summary>
    /// Shuts the connection both ways at once (the client sees it end, and a write the app is waiting on fails),
    /// and makes its close a reset (SO_LINGER 0). The socket itself is closed by the connection, once the app is done.
    /// </summary>
    public void Abort()
    {
        if (_aborted) return;
        _aborted = true;
        // Both false when the client is gone already.
        _io.ResetOnClose();
        _io.Shutdown(SocketShutdown.Both);
        Interlocked.MemoryBarrier();
        FireAborted(Volatile.Read(ref _abortSource));
    }

    void IPeerEvents.Started() => _ = RunAsync();

    void IPeerEvents.Broken() => ClientGone();

    void IPeerEvents.PeerFinished() => ClientFinished();

    /// <summary>Called on the loop when the connection broke (see <see cref="IPeerEvents.Broken"/>).</summary>
    private void ClientGone()
    {
        _clientGone = true;
        Interlocked.MemoryBarrier();
        FireAborted(Volatile.Read(ref _abortSource));
    }

    /// <summary>Called on the loop at the client's FIN (see <see cref="IPeerEvents.PeerFinished"/>).</summary>
    private void ClientFinished()
    {
        if (_clientFinished) return;
        _clientFinished = true;
        Interlocked.MemoryBarrier();
        FireAborted(Volatile.Read(ref _abortSource));
    }

    private static void FireAborted(CancellationTokenSource? source)
    {
        try
        {
            source?.Cancel();
        }
        catch (AggregateException e)
        {
            Log.Error($"A callback registered on a request's abort failed: {e}");
        }
    }

    /// <summary>A new request gets a token not yet fired: the last request's source, reset, unless it fired.</summary>
    private void RenewAborted()
    {
        var source = _abortSource;
        if (source != null && !source.TryReset()) _abortSource = null;
    }

    /// <summary>
    /// True when the request ended in a reset or an abort: nothing is sent then, and the connection closes
    /// (a reset by the client is counted as one, quietly, like any other client failure).
    /// </summary>
    private bool EndedInAbort()
    {
        if (_aborted) return true;
        if (!_clientGone) return false;
        _traffic?.ClientFailed(ClientError.Reset);
        Log.Debug($"Connection from {RemoteAddress} reset by the client while its request ran");
        return true;
    }
}
