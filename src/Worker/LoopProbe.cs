using System.Net.Sockets;
using Prefork.Http.Loop;

namespace Prefork.Worker;

/// <summary>
/// Proof that the worker's event loop (<see cref="EventLoop"/>) still turns. The one-second tick runs on a
/// timer thread, which keeps running however stuck the loop is, so it does not report by itself: it writes a
/// byte into a socket pair whose other end is registered with the loop like any connection, and the report
/// goes out only when the loop gets round to reading that byte. App code that blocks the
/// loop (a sync call in an async worker) stops the heartbeat, and the master's --timeout does the rest.
/// </summary>
public sealed class LoopProbe : IDisposable
{
    private static readonly byte[] Ping = [1];
    private readonly Socket _tick;
    private readonly Socket _loop;
    private readonly LoopSocket _loopIo;

    public LoopProbe(Action onTurn)
    {
        var (a, b) = Native.SocketPair();
        _tick = new Socket(new SafeSocketHandle(a, ownsHandle: true));
        _loop = new Socket(new SafeSocketHandle(b, ownsHandle: true));
        _loopIo = new LoopSocket(_loop, EventLoop.Shared);
        _loopIo.Open();
        _ = ListenAsync(onTurn);
    }

    /// <summary>Called by the tick: asks the loop to report.</summary>
    public void Poke()
    {
        try
        {
            _tick.Send(Ping);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    private async Task ListenAsync(Action onTurn)
    {
        var buffer = new byte[64];
        try
        {
            while (await _loopIo.ReceiveAsync(buffer) > 0) onTurn();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    public void Dispose()
    {
        _tick.Dispose();
        _loopIo.Dispose();
        _loop.Dispose();
    }
}
