using System.Runtime.InteropServices;

namespace Prefork;

/// <summary>The few libc calls .NET does not expose. Linux only; see the README for the Windows seam.</summary>
public static partial class Native
{
    private const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
    private const int SOL_SOCKET = 1, SO_RCVTIMEO = 20;
    private const int SOCK_CLOEXEC = 0x80000;
    public const int EAGAIN = 11, EINTR = 4;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static partial int Accept4(int fd, nint address, nint addressLength, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Lets a descriptor survive exec, so a spawned worker inherits it (.NET opens everything close-on-exec).</summary>
    public static void ClearCloseOnExec(int fd)
    {
        int flags = Fcntl(fd, F_GETFD, 0);
        if (flags < 0 || Fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
            throw new IOException($"fcntl({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// A blocking accept. Linux wakes blocked acceptors one at a time, longest waiter first, which is what
    /// spreads connections evenly over workers (an epoll-based accept wakes every worker and the most
    /// recently busy one tends to win). Returns the new descriptor, or -1 with errno.
    /// </summary>
    public static int Accept(int listenFd, out int errno)
    {
        int fd = Accept4(listenFd, 0, 0, SOCK_CLOEXEC);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>Bounds how long a blocking accept waits (SO_RCVTIMEO applies to accept on Linux), so it can notice a stop.</summary>
    public static unsafe void SetAcceptTimeout(int fd, TimeSpan timeout)
    {
        long* timeval = stackalloc long[2];
        timeval[0] = (long)timeout.TotalSeconds;
        timeval[1] = (long)(timeout.TotalMicroseconds % 1_000_000);
        if (SetSockOpt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval, 2 * sizeof(long)) < 0)
            throw new IOException($"setsockopt(SO_RCVTIMEO) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Sends a signal by number; USR1 and USR2 have no PosixSignal name.</summary>
    public static bool SendSignal(int pid, int signal) => Kill(pid, signal) == 0;

    public const int SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGTERM = 15;
}
