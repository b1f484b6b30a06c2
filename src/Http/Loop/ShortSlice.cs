using System.Runtime.InteropServices;

namespace Prefork.Http.Loop;

/// <summary>
/// Asks the kernel to give the calling thread a short time slice (Linux 6.12 and later: EEVDF's per-task slice,
/// <c>sched_setattr</c> with <c>sched_runtime</c> under the normal policy). A slice sets how soon a task that wakes
/// runs, not how much CPU it gets: its share stays what its nice value says. A loop woken by a client's bytes
/// gets an earlier deadline than the task on the CPU (the client itself, a sibling worker), so it runs at once
/// instead of after that task's slice, which the kernel only checks at its next tick (4 ms at HZ=250). Older
/// kernels accept the call and ignore the slice.
/// </summary>
internal static unsafe partial class ShortSlice
{
    // The smallest slice the kernel takes (0.1 ms); shorter asks are raised to it.
    public const ulong Nanoseconds = 100_000;
    private const int AttrSize = 56, RuntimeOffset = 24, SCHED_OTHER = 0, SCHED_BATCH = 3;

    /// <summary>True when the kernel took the request (an older kernel takes it too, and ignores the slice).</summary>
    public static bool Request()
    {
        var (getattr, setattr) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (315L, 314L),
            Architecture.Arm64 => (275L, 274L),
            _ => (0L, 0L),
        };
        if (getattr == 0) return false;
        // struct sched_attr: size, policy, flags, nice, priority, runtime, deadline, period. Read first, so the thread
        // keeps the nice value and policy it was started with (sched_setattr sets every field).
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        if (Syscall(getattr, 0, attr, AttrSize, 0) != 0) return false;
        uint policy = *(uint*)(attr + 4);
        if (policy is not (SCHED_OTHER or SCHED_BATCH)) return false;
        *(uint*)attr = AttrSize;
        *(ulong*)(attr + 8) = 0;
        *(ulong*)(attr + RuntimeOffset) = Nanoseconds;
        return Syscall(setattr, 0, attr, 0, 0) == 0;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long pid, byte* attr, long size, long flags);
}
