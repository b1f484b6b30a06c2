using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Prefork.Http.Loop;

/// <summary>
/// The process's one epoll loop (nginx's event loop): a thread that waits for readiness on every open
/// connection and resumes the connection that can go on, on this thread. Each socket is registered once,
/// edge-triggered, for reading and writing; nothing is re-armed per request. .NET's own socket engine
/// does the same waiting, but always tries a read before it waits, and a client that sends one request at
/// a time has nothing to read yet when the response has just gone out: one failed recv(2) per request,
/// which on a small machine is a third of the syscalls.
/// The loop also keeps the host's clock: callbacks given to <see cref="EverySecond"/> run on this thread, so
/// a loop held up by app code holds them up too (the worker's heartbeat is one of them).
/// </summary>
public sealed partial class EventLoop
{
    private const int EPOLL_CTL_ADD = 1;
    private const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000, EPOLLET = 1u << 31;
    private const uint Readable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR, Writable = EPOLLOUT | EPOLLHUP | EPOLLERR;
    private const int EPOLL_CLOEXEC = 0x80000, EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    // The epoll data of the eventfd that wakes the loop for posted work; a socket's is its slot and generation.
    private const ulong WakeData = ulong.MaxValue;
    private const long TickMs = 1000;

    private static readonly Lazy<EventLoop> Instance = new(() => new EventLoop());

    private readonly int _epoll;
    private readonly object _gate = new();
    // A slot per registered socket; the epoll event names its slot and the slot's generation, so an event that
    // was already queued when its socket closed cannot wake the socket that took the slot next.
    private LoopSocket?[] _slots = new LoopSocket?[64];
    private readonly Stack<int> _free = new();
    private int _used;
    // Stamped on each registration, so a slot's next socket never carries the generation of the one before.
    private int _generation;
    private Action[] _ticks = [];
    private readonly int _wake;
    private readonly ConcurrentQueue<(Action<object?> Work, object? State)> _posted = new();

    private EventLoop()
    {
        _epoll = EpollCreate1(EPOLL_CLOEXEC);
        if (_epoll < 0) throw new IOException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        _wake = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (_wake < 0 || !Register(_wake, WakeData)) throw new IOException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        new Thread(Run) { IsBackground = true, Name = "event loop" }.Start();
    }

    public static EventLoop Shared => Instance.Value;

    internal void Add(LoopSocket socket)
    {
        lock (_gate)
        {
            int slot;
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                if (_used == _slots.Length)
                {
                    var bigger = new LoopSocket?[_slots.Length * 2];
                    _slots.CopyTo(bigger, 0);
                    // Published before the descriptor is added, so the loop sees the new table for its first event.
                    Volatile.Write(ref _slots, bigger);
                }
                slot = _used++;
            }
            socket.Slot = slot;
            socket.Generation = ++_generation;
            Volatile.Write(ref _slots[slot], socket);
        }
        if (!Register(socket.Fd, (ulong)(uint)socket.Generation << 32 | (uint)socket.Slot))
        {
            int errno = Marshal.GetLastPInvokeError();
            Remove(socket);
            throw new InvalidOperationException($"epoll_ctl failed: errno {errno}");
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread (a write to the loop's eventfd wakes it).</summary>
    public unsafe void Post(Action<object?> work, object? state)
    {
        _posted.Enqueue((work, state));
        ulong one = 1;
        _ = Write(_wake, &one, sizeof(ulong));
    }

    private unsafe void RunPosted()
    {
        ulong count;
        _ = Read(_wake, &count, sizeof(ulong));
        while (_posted.TryDequeue(out var posted)) posted.Work(posted.State);
    }

    /// <summary>
    /// Runs <paramref name="tick"/> on the loop thread about once a second, for as long as the process lives
    /// (the Date header, connection deadlines, a worker's heartbeat).
    /// </summary>
    public void EverySecond(Action tick)
    {
        lock (_gate) Volatile.Write(ref _ticks, [.. _ticks, tick]);
    }

    /// <summary>Frees the slot; closing the descriptor takes it out of the epoll set.</summary>
    internal void Remove(LoopSocket socket)
    {
        lock (_gate)
        {
            Volatile.Write(ref _slots[socket.Slot], null);
            _free.Push(socket.Slot);
        }
    }

    private bool Register(int fd, ulong data) => EpollControl(EPOLL_CTL_ADD, fd, Readable | Writable | EPOLLET, data);

    private unsafe bool EpollControl(int op, int fd, uint events, ulong data)
    {
        byte* e = stackalloc byte[16];
        *(uint*)e = events;
        Unsafe.WriteUnaligned(e + DataOffset, data);
        return EpollCtl(_epoll, op, fd, e) == 0;
    }

    private unsafe void Run()
    {
        const int Batch = 256;
        byte* events = stackalloc byte[Batch * EventSize];
        // Every connection of the worker waits on this thread: woken, it should run before whatever holds the CPU.
        if (!ShortSlice.Request()) Log.Debug("the event loop keeps the kernel's default time slice");
        // The tick is epoll_wait's timeout, as in nginx, rather than a timerfd: the clock is read once a turn
        // (through the vDSO, no syscall), a busy loop re-arms nothing, and no descriptor has to be read each
        // second. A wait cut short by events just waits for what is left of the second.
        long nextTick = Environment.TickCount64 + TickMs;
        int timeout = (int)TickMs;
        while (true)
        {
            int n = EpollWait(_epoll, events, Batch, _afterNextTurn.Count > 0 ? Math.Min(timeout, 1) : timeout);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Native.EINTR) continue;
                Log.Critical($"epoll_wait failed: errno {errno}");
                return;
            }
            Dispatch(events, n);
            // A turn that found work offers the core before the next: where workers outnumber free cores (the
            // client's own load on the machine counts), a sibling's ready connections then wait for one turn of
            // this loop, not for the rest of its time slice (1.4 ms on this kernel, and several in a row). Alone
            // on its core the call returns at once. It halved the ASP.NET Core app's p99 excess over Kestrel's (README).
            // With the loop's short slice a yield moves its deadline back by 0.1 ms only: a sibling goes first, and a
            // task that has run its slice (the client) does not.
            if (n > 0) SchedYield();
            RunAfterTurn();
            long now = Environment.TickCount64;
            // A due tick waits for one more poll (timeout 0) unless this wait ran out with nothing to do: what
            // arrived while app code held the loop up is handled first (nginx, too, handles events before it
            // expires timers), so the sweep does not time a client out for the server's own stall.
            if (now >= nextTick && (timeout == 0 || n == 0))
            {
                foreach (var tick in Volatile.Read(ref _ticks)) tick();
                nextTick = now + TickMs;
            }
            timeout = (int)Math.Max(0, nextTick - now);
        }
    }

    private unsafe void Dispatch(byte* events, int n)
    {
        var slots = Volatile.Read(ref _slots);
        for (int i = 0; i < n; i++)
        {
            byte* e = events + i * EventSize;
            ulong data = Unsafe.ReadUnaligned<ulong>(e + DataOffset);
            if (data == WakeData)
            {
                RunPosted();
                continue;
            }
            if (IsListener(data))
            {
                ListenerReady(data);
                continue;
            }
            var socket = Volatile.Read(ref slots[(int)(uint)data]);
            if (socket == null || socket.Generation != (int)(data >> 32)) continue;
            // The woken connection runs on this thread until it has to wait again (an app that blocks
            // holds up every connection of this worker, as in any event loop); what it throws is caught
            // by its own async method.
            uint ready = *(uint*)e;
            if ((ready & Readable) != 0 && socket.ReadReady.Signal(final: (ready & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)) socket.Ready(writing: false);
            if ((ready & Writable) != 0 && socket.WriteReady.Signal(final: (ready & (EPOLLHUP | EPOLLERR)) != 0)) socket.Ready(writing: true);
            // A socket that joined from another thread starts here; what this event said is counted already, so
            // its first read tries at once and an end of stream that came with the request is not missed.
            if (socket.StartPending)
            {
                socket.StartPending = false;
                socket.Peer?.Started();
            }
            if ((ready & (EPOLLRDHUP | EPOLLHUP)) != 0) socket.Peer?.PeerFinished();
            if ((ready & (EPOLLHUP | EPOLLERR)) != 0) socket.Peer?.Broken();
        }
    }

    // struct epoll_event { uint32_t events; uint64_t data; } is packed on x86-64 (12 bytes), aligned elsewhere (16).
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;
    private static readonly int EventSize = DataOffset + 8;

    [LibraryImport("libc", EntryPoint = "sched_yield")]
    private static partial int SchedYield();

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static unsafe partial int EpollCtl(int epoll, int op, int fd, byte* e);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWait(int epoll, byte* events, int max, int timeoutMs);
}
