using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Prefork.App;

namespace Prefork.Http;

/// <summary>A connection's bytes: reading into its input buffer, sending what is queued, and closing without a reset.</summary>
public sealed partial class HttpConnection
{
    /// <summary>
    /// Sends what is queued, then closes our side; with <paramref name="linger"/>, reads until the client closes
    /// too (nginx's lingering close): closing with unread bytes would make the kernel send RST, which can
    /// destroy the response before the client reads it.
    /// </summary>
    private async Task CloseGracefullyAsync(bool linger)
    {
        await FlushAsync();
        // Plain and not waiting for the client, the close that follows sends the FIN itself (nginx does no more).
        if (!linger && _tls == null) return;
        await _transport.ShutdownSendAsync();
        if (!linger) return;
        _host.WaitingForClient(this, sentNothing: false);
        SetDeadline(Phase.ReadingBody, Environment.TickCount64 + 2000);
        if (_input.Length == 0) MakeRoom();
        for (int i = 0; i < 64; i++)
        {
            if (await _transport.ReceiveAsync(_input) == 0) break;
        }
    }

    /// <summary>
    /// Reads more bytes into the input buffer, flushing queued output first; false at end of stream or
    /// timeout. A client slow to send a head or a body suspends here, so its state machine comes from a pool
    /// rather than the heap.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveAsync(Phase phase)
    {
        if (_exchange.Output.Length > 0) await FlushAsync();
        StartWaiting(phase);
        if (_end == _input.Length) MakeRoom();
        int n = await _transport.ReceiveAsync(_input.AsMemory(_end));
        _end += n;
        return n > 0;
    }

    /// <summary>
    /// Each phase has one deadline, set when the phase begins: a client that trickles a head or a body a byte at a
    /// time gets no more time than one that sends nothing.
    /// </summary>
    private void StartWaiting(Phase phase)
    {
        if (phase != _readPhase)
        {
            _readPhase = phase;
            var wait = phase == Phase.Idle ? _limits.IdleTimeout : _limits.RequestTimeout;
            _readDeadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
            // Not the tick: it counts whole milliseconds, and a full worker must tell which of its idle connections
            // went idle first even when they did within one tick.
            if (phase == Phase.Idle) _idleSince = Stopwatch.GetTimestamp();
        }
        SetDeadline(phase, _readDeadline);
    }

    /// <summary>
    /// Leaves an idle connection with nothing to read waiting for its next request in no async method: no state
    /// machine, no buffer, no request (its exchange goes back), only the loop's call to <see cref="Wake"/> when
    /// bytes (or the end) come, which starts the next turn. False when there may be bytes already, or over TLS,
    /// whose SslStream keeps buffers of its own and may hold the next request decrypted already.
    /// </summary>
    private bool Park()
    {
        if (_tls != null || _io.MayBeReadable) return false;
        StartWaiting(Phase.Idle);
        ReleaseBuffers();
        _exchange.Return();
        _exchange = null!;
        _host.WaitingForClient(this, sentNothing: true);
        // Once armed, the next turn may start on the loop at once: this one touches the connection no more.
        if (_io.WhenReadable(Wake, this)) return true;
        _exchange = Exchange.Take(this);
        return false;
    }

    private static void Wake(object? connection) => _ = ((HttpConnection)connection!).TurnAsync(opening: false);

    /// <summary>Sends what is queued. Not an async method: nearly every send completes at once, and then costs no state machine.</summary>
    /// <param name="moreFollows">More of the response is sent right after (see <see cref="IConnectionTransport.SendAsync"/>).</param>
    private ValueTask FlushAsync(bool moreFollows = false)
    {
        if (_exchange.Output.Length == 0) return default;
        SetDeadline(Phase.Writing, Environment.TickCount64 + (long)_limits.RequestTimeout.TotalMilliseconds);
        var sending = _transport.SendAsync(_exchange.Output.Memory, moreFollows);
        if (!sending.IsCompletedSuccessfully) return ClearWhenSentAsync(sending);
        _exchange.Output.Clear();
        return default;
    }

    private async ValueTask ClearWhenSentAsync(ValueTask sending)
    {
        await sending;
        _exchange.Output.Clear();
    }

    /// <summary>
    /// An idle connection keeps no input buffer: it goes back to the shared pool, to be rented again when the next
    /// request's bytes arrive (the exchange's buffers go back with the exchange).
    /// </summary>
    private void ReleaseBuffers()
    {
        PooledArray.Return(ref _input);
        _start = _end = 0;
    }

    private void MakeRoom()
    {
        if (_input.Length == 0)
        {
            _input = ArrayPool<byte>.Shared.Rent(InputSize);
            return;
        }
        if (_start > 0)
        {
            Buffered.CopyTo(_input);
            _end -= _start;
            _start = 0;
            return;
        }
        // A head still arriving: the parser refuses heads past the limits, so this growth is bounded.
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_input.Length * 2, _limits.MaxHeadSize + InputSize));
        if (bigger.Length <= _input.Length) throw new InvalidOperationException("request head exceeds the buffer");
        Buffered.CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_input);
        _input = bigger;
    }
}
