using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Prefork.Http.Loop;

/// <summary>
/// A connection's reads and writes, made as plain non-blocking syscalls and waited for on the
/// <see cref="EventLoop"/>. A read that returns less than it had room for has emptied the socket (nginx reads
/// a short read the same way), so the next read waits for an edge before it tries. The rest of what a
/// connection does with its socket is plain syscalls too (LoopSocket.Socket.cs: shutdown, addresses, close;
/// LoopSocket.SendFile.cs: sendfile). The socket's handle owns the descriptor; only the connection that owns it
/// closes it, so the descriptor cannot be reused under a read. A read or write that has to wait is
/// itself the awaitable (one at a time in each direction, as .NET's socket does), so waiting allocates nothing.
/// A socket is read with recv(2), as nginx does: read(2) goes through the file layer first (the position lock, the
/// permission and notify hooks), about 2% of a worker's CPU with 10,000 busy clients. A pipe is read with read(2)
/// (<see cref="ForPipe"/>: a worker's channel from its master).
/// </summary>
public sealed partial class LoopSocket : IValueTaskSource<int>, IValueTaskSource, IConnectionTransport, IDisposable
{
    private const int MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000;
    private const int EAGAIN = 11, EINTR = 4;
    private const int F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800;
    // Null for a pipe, whose descriptor stays its owner's.
    private readonly SocketHandle? _handle;
    private readonly EventLoop _loop;
    private bool _open;
    private ManualResetValueTaskSourceCore<int> _received;
    private ManualResetValueTaskSourceCore<bool> _sent;
    private Memory<byte> _receiveInto;
    private ReadOnlyMemory<byte> _unsent;
    private int _sendFlags;

    /// <summary>A connected socket, non-blocking already (accept4 with SOCK_NONBLOCK); disposing this closes it.</summary>
    public LoopSocket(SocketHandle handle, EventLoop loop) : this(loop) => _handle = handle;

    private LoopSocket(EventLoop loop)
    {
        _loop = loop;
        ReadReady = new Readiness();
        WriteReady = new Readiness();
    }

    /// <summary>The read end of a pipe, made non-blocking by <see cref="Open"/>; only <see cref="ReceiveAsync"/> applies.</summary>
    public static LoopSocket ForPipe(int fd, EventLoop loop) => new(loop) { Fd = fd };

    public int Fd { get; private set; }
    internal int Slot { get; set; }
    internal int Generation { get; set; }
    // Fields, not properties: each is a struct that changes in place.
    internal Readiness ReadReady;
    internal Readiness WriteReady;

    /// <summary>Told on the loop when the peer finished sending, or the connection broke.</summary>
    internal IPeerEvents? Peer { get; init; }

    /// <summary>True once the socket has joined the event loop.</summary>
    public bool IsOpen => _open;

    /// <summary>
    /// Joins the event loop, from any thread. With <paramref name="startOnFirstEvent"/>, the socket's <see cref="Peer"/>
    /// is told <see cref="IPeerEvents.Started"/> on the loop at the socket's first event. A failure throws and leaves
    /// the socket out of the loop, so that it may try again.
    /// </summary>
    public void Open(bool startOnFirstEvent = false)
    {
        if (_handle != null)
        {
            Fd = (int)_handle.DangerousGetHandle();
        }
        else if (Fcntl(Fd, F_SETFL, Fcntl(Fd, F_GETFL, 0) | O_NONBLOCK) < 0)
        {
            throw Failure("fcntl", Marshal.GetLastPInvokeError());
        }
        StartPending = startOnFirstEvent;
        // Registering reports what is there already (an edge for bytes that came before), so the first read waits
        // for that edge instead of trying at once: most new connections have sent nothing yet when they are
        // accepted, and a read that finds nothing is a syscall for nothing (nginx, too, waits for the first event).
        ReadReady.Drained(ReadReady.Edges);
        // Set before the socket can have an event: the loop may run it, and close it, before Add returns.
        _open = true;
        try
        {
            _loop.Add(this);
        }
        catch
        {
            _open = false;
            throw;
        }
    }

    /// <summary>Cleared by the loop when it dispatches the socket's first event, and tells the peer it started.</summary>
    internal bool StartPending { get; set; }

    /// <summary>
    /// Bytes read into <paramref name="buffer"/>; 0 at end of stream. A read of nothing completes (with 0) when a read
    /// may find bytes or the end: an idle keep-alive connection waits so holding no buffer.
    /// </summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        int n = TryReceive(buffer.Span);
        if (n >= 0) return new(n);
        _receiveInto = buffer;
        _received.Reset();
        WaitReadable();
        return new ValueTask<int>(this, _received.Version);
    }

    /// <summary>
    /// Calls <paramref name="then"/> on the loop's thread once a read may find bytes or the end, as a read of nothing
    /// would complete, but with no awaiter: false, and no call, when a read may find them already.
    /// </summary>
    public bool WhenReadable(Action<object?> then, object state)
    {
        var waiting = ReceiveAsync(Memory<byte>.Empty);
        if (waiting.IsCompleted) return false;
        _received.OnCompleted(then, state, _received.Version, ValueTaskSourceOnCompletedFlags.None);
        return true;
    }

    /// <summary>True unless the last read found the socket empty and no edge came since.</summary>
    public bool MayBeReadable => ReadReady.MayBeReady;

    public ValueTask SendAsync(ReadOnlyMemory<byte> bytes, bool moreFollows = false)
    {
        _sendFlags = moreFollows ? MSG_NOSIGNAL | MSG_MORE : MSG_NOSIGNAL;
        int sent = TrySend(bytes.Span);
        if (sent == bytes.Length) return default;
        _unsent = bytes[sent..];
        _sent.Reset();
        WaitWritable();
        return new ValueTask(this, _sent.Version);
    }

    public ValueTask ShutdownSendAsync()
    {
        Shutdown(SocketShutdown.Send);
        return default;
    }

    /// <summary>Called by the loop when a direction's armed wait may end (<see cref="Readiness.Signal"/>).</summary>
    internal void Ready(bool writing)
    {
        if (writing) ContinueSend();
        else ContinueReceive();
    }

    private void WaitReadable()
    {
        if (ReadReady.Arm()) ContinueReceive();
    }

    private void WaitWritable()
    {
        if (WriteReady.Arm()) ContinueSend();
    }

    private void ContinueReceive()
    {
        try
        {
            int n = TryReceive(_receiveInto.Span);
            if (n < 0)
            {
                WaitReadable();
                return;
            }
            _receiveInto = default;
            _received.SetResult(n);
        }
        catch (IOException e)
        {
            _received.SetException(e);
        }
    }

    private void ContinueSend()
    {
        if (_file != null)
        {
            ContinueSendFile();
            return;
        }
        try
        {
            _unsent = _unsent[TrySend(_unsent.Span)..];
            if (!_unsent.IsEmpty)
            {
                WaitWritable();
                return;
            }
            _sent.SetResult(true);
        }
        catch (IOException e)
        {
            _sent.SetException(e);
        }
    }

    /// <summary>What recv(2) gave, or -1 when there is nothing yet.</summary>
    private unsafe int TryReceive(Span<byte> buffer)
    {
        if (!ReadReady.MayBeReady) return -1;
        // A read of nothing asks only to wait until there is something to read (SslStream makes one before each
        // TLS record, and an idle connection waits so, each renting its buffer only once bytes are there):
        // readiness answers it, where recv(2) of nothing would cost a syscall to return 0, bytes or not.
        if (buffer.IsEmpty) return 0;
        long edges = ReadReady.Edges;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = _handle != null ? Receive(Fd, p, (nuint)buffer.Length, 0) : Read(Fd, p, (nuint)buffer.Length);
                if (n >= 0)
                {
                    if (n < buffer.Length) ReadReady.Drained(edges);
                    return (int)n;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno != EAGAIN) throw Failure(_handle != null ? "recv" : "read", errno);
                ReadReady.Drained(edges);
                return -1;
            }
        }
    }

    /// <summary>How many bytes send(2) took: all of them unless the socket's buffer filled up.</summary>
    private unsafe int TrySend(ReadOnlySpan<byte> bytes)
    {
        if (!WriteReady.MayBeReady) return 0;
        long edges = WriteReady.Edges;
        fixed (byte* p = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = Send(Fd, p + done, (nuint)(bytes.Length - done), _sendFlags);
                if (n >= 0)
                {
                    done += (int)n;
                    continue;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno != EAGAIN) throw Failure("send", errno);
                WriteReady.Drained(edges);
                break;
            }
            return done;
        }
    }

    private static ConnectionLostException Failure(string call, int errno) => new(call, errno);

    public void Dispose()
    {
        if (_open) _loop.Remove(this);
        _handle?.Dispose();
    }

    int IValueTaskSource<int>.GetResult(short token) => _received.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _received.GetStatus(token);
    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _received.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.GetResult(short token) => _sent.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _sent.GetStatus(token);
    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _sent.OnCompleted(continuation, state, token, flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Receive(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);
}
