using System.Runtime.InteropServices;

namespace Prefork.Control;

/// <summary>
/// Apache's scoreboard: a small table in memory shared by the master and every worker, one slot per live worker
/// process, in which each worker publishes how many connections it holds. A worker about to accept first
/// looks at its siblings: while one of them holds clearly fewer, it waits a moment and lets that one take
/// the connection. Without this, a burst of connections goes to whichever worker happens to be running,
/// and keep-alive then pins the imbalance for the life of the connections. The master hands out the slots: a
/// process keeps its own for life, so the old and the new worker of one number (a reload, a --max-requests
/// replacement) never write over each other, and a dead worker's slot is cleared when it is reaped.
/// </summary>
public sealed unsafe class Scoreboard
{
    /// <summary>The most workers a server runs (--workers, SIGTTIN).</summary>
    public const int MaxWorkers = 256;
    // Room for a generation booting beside one serving and others still draining, each process in a slot of its own.
    public const int Slots = 4 * MaxWorkers;
    // One cache line a slot, so workers never write to the same line.
    private const int SlotSize = 64;
    // A slot not refreshed for this long belongs to a worker that hung or stopped accepting.
    private const long StaleMs = 2000;
    // After the slots, one line about the whole server: whether the sockets are shared, and how many slots to look at.
    private const int Size = (Slots + 1) * SlotSize;
    private const int ServerLine = Slots * SlotSize;

    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public long UpdatedMs;
        public int Connections;
        public int Accepting;
    }

    private readonly byte* _base;

    private Scoreboard(int fd, byte* @base)
    {
        Fd = fd;
        _base = @base;
    }

    /// <summary>The descriptor workers inherit (it has no path: memfd).</summary>
    public int Fd { get; }

    /// <summary>The master's side: a fresh, zeroed table.</summary>
    public static Scoreboard Create()
    {
        int fd = Native.CreateSharedMemory("prefork-scoreboard", Size);
        return new Scoreboard(fd, Native.MapShared(fd, Size));
    }

    /// <summary>A worker's side: the table its master made.</summary>
    public static Scoreboard Open(int fd) => new(fd, Native.MapShared(fd, Size));

    /// <summary>
    /// Set by the master while another server accepts on the same listening sockets (systemd, which keeps them; the
    /// new master of a binary upgrade; the old one until it is told to go). Kept here rather than sent, so a worker
    /// whose master was killed still knows it: the last server on a socket seals it before closing it
    /// (<see cref="ListenerSeal"/>), and no other may.
    /// </summary>
    public bool ListenersShared
    {
        get => Volatile.Read(ref *(int*)(_base + ServerLine)) != 0;
        set => Volatile.Write(ref *(int*)(_base + ServerLine), value ? 1 : 0);
    }

    /// <summary>Set by the master as it hands out slots: every slot in use is below it, so a worker looks at no more.</summary>
    public int SlotsInUse
    {
        get => Math.Clamp(Volatile.Read(ref *(int*)(_base + ServerLine + sizeof(int))), 0, Slots);
        set => Volatile.Write(ref *(int*)(_base + ServerLine + sizeof(int)), value);
    }

    public void Publish(int slot, int connections, bool accepting)
    {
        var s = SlotAt(slot);
        Volatile.Write(ref s->Connections, connections);
        Volatile.Write(ref s->Accepting, accepting ? 1 : 0);
        Volatile.Write(ref s->UpdatedMs, Environment.TickCount64);
    }

    /// <summary>The master's side, once a worker is reaped: its slot stops counting at once, not once it is stale.</summary>
    public void Clear(int slot) => Volatile.Write(ref SlotAt(slot)->Accepting, 0);

    /// <summary>The fewest connections held by another live, accepting worker; null when there is none.</summary>
    public int? LeastLoadedSibling(int slot)
    {
        long now = Environment.TickCount64;
        int? least = null;
        for (int i = 0, n = SlotsInUse; i < n; i++)
        {
            if (i == slot % Slots) continue;
            var s = (Slot*)(_base + i * SlotSize);
            if (Volatile.Read(ref s->Accepting) == 0 || now - Volatile.Read(ref s->UpdatedMs) > StaleMs) continue;
            int connections = Volatile.Read(ref s->Connections);
            if (least == null || connections < least) least = connections;
        }
        return least;
    }

    private Slot* SlotAt(int slot) => (Slot*)(_base + (slot % Slots) * SlotSize);
}
