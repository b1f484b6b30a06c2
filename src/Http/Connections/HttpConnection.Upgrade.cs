using System.Net.Sockets;
using Prefork.App;

namespace Prefork.Http;

/// <summary>
/// A connection handed over after 101 Switching Protocols (a WebSocket). It stays in its request's Processing
/// phase until the app returns: no read deadline runs on it (the new protocol keeps its own time), it is never
/// closed as idle, and a draining worker waits for it as for any request in flight. A write that has to wait
/// has the request timeout, as any response's has: a peer that stops reading is cut, and the app's write fails.
/// </summary>
public sealed partial class HttpConnection
{
    private bool _upgraded;

    async ValueTask<Stream> IResponseSink.UpgradeAsync()
    {
        if (!_exchange.Head.IsUpgrade) throw new InvalidOperationException("the request does not ask to upgrade");
        if (_exchange.Response.HasStarted) throw new InvalidOperationException("the response has already started");
        _exchange.Response.HasStarted = true;
        _exchange.Response.StatusCode = 101;
        _upgraded = true;
        ResponseWriter.WriteHead(_exchange.Output, _exchange.Response, BodyFraming.UntilClose, 0, keepAlive: true, http10: false);
        await FlushAsync();
        // The flush timed the write; from here on the connection is the app's, with no deadline of ours.
        _phase = Phase.Processing;
        return new UpgradedStream(this);
    }

    /// <summary>Reads what the client sent: first what was read past the request head, then the socket.</summary>
    internal ValueTask<int> ReadUpgradedAsync(Memory<byte> buffer)
    {
        if (_start == _end) return _transport.ReceiveAsync(buffer);
        int n = Math.Min(buffer.Length, _end - _start);
        Buffered[..n].CopyTo(buffer.Span);
        _start += n;
        return new(n);
    }

    internal ValueTask WriteUpgradedAsync(ReadOnlyMemory<byte> bytes)
    {
        var sending = _transport.SendAsync(bytes);
        return sending.IsCompletedSuccessfully ? default : WaitUpgradedWriteAsync(sending);
    }

    private async ValueTask WaitUpgradedWriteAsync(ValueTask sending)
    {
        // Timed from when the write had to wait; reads are the app's to time, so the phase is the write's alone.
        SetDeadline(Phase.Writing, Environment.TickCount64 + (long)_limits.RequestTimeout.TotalMilliseconds);
        try
        {
            await sending;
        }
        finally
        {
            _phase = Phase.Processing;
        }
    }

    /// <summary>The app is done with the stream: the client sees the end, and a read still waiting returns end of stream.</summary>
    internal void EndUpgraded()
    {
        // False when the client, or the connection, closed first.
        _io.Shutdown(SocketShutdown.Both);
    }
}
