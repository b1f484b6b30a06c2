using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Prefork.Worker.Http;

/// <summary>
/// A connection's reads and writes, made as plain non-blocking syscalls and waited for on the
/// <see cref="EventLoop"/>. A read that returns less than it had room for has emptied the socket (nginx reads
/// a short read the same way), so the next read waits for an edge before it tries. The <see cref="Socket"/>
/// still owns the descriptor and does everything else (shutdown, sendfile, close); only the connection that
/// owns it closes it, so the descriptor cannot be reused under a read. A wait suspends two async methods
/// (this one and the connection's) once a request; their state machines come from a pool, not the heap.
/// </summary>
internal sealed partial class LoopSocket : IDisposable
{
    private const int MSG_NOSIGNAL = 0x4000;
    private const int EAGAIN = 11, EINTR = 4;
    private readonly EventLoop _loop;

    public LoopSocket(Socket socket, EventLoop loop)
    {
        socket.Blocking = false;
        Fd = (int)socket.SafeHandle.DangerousGetHandle();
        _loop = loop;
        loop.Add(this);
    }

    public int Fd { get; }
    public int Slot { get; set; }
    public int Generation { get; set; }
    public Readiness ReadReady { get; } = new();
    public Readiness WriteReady { get; } = new();

    /// <summary>Bytes read into <paramref name="buffer"/>; 0 at end of stream.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        int n = TryReceive(buffer.Span);
        return n >= 0 ? new(n) : WaitThenReceiveAsync(buffer);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        int sent = TrySend(bytes.Span);
        return sent == bytes.Length ? default : WaitThenSendAsync(bytes[sent..]);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> WaitThenReceiveAsync(Memory<byte> buffer)
    {
        while (true)
        {
            await ReadReady.WaitAsync();
            int n = TryReceive(buffer.Span);
            if (n >= 0) return n;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitThenSendAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            await WriteReady.WaitAsync();
            bytes = bytes[TrySend(bytes.Span)..];
        }
    }

    /// <summary>What recv(2) gave, or -1 when there is nothing yet.</summary>
    private unsafe int TryReceive(Span<byte> buffer)
    {
        if (!ReadReady.MayBeReady) return -1;
        long edges = ReadReady.Edges;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = Recv(Fd, p, (nuint)buffer.Length, 0);
                if (n >= 0)
                {
                    if (n < buffer.Length) ReadReady.Drained(edges);
                    return (int)n;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno != EAGAIN) throw Failure("recv", errno);
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
                nint n = Send(Fd, p + done, (nuint)(bytes.Length - done), MSG_NOSIGNAL);
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

    // The connection treats any I/O failure as the client gone (ECONNRESET, EPIPE after a shutdown, ...).
    private static IOException Failure(string call, int errno) => new($"{call} failed: errno {errno}");

    public void Dispose() => _loop.Remove(this);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);
}
