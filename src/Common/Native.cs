using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Prefork;

/// <summary>The few libc calls .NET does not expose. Linux only; see the README for the Windows seam.</summary>
public static partial class Native
{
    private const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800;
    private const int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_REUSEPORT = 15;
    private const int SOCK_CLOEXEC = 0x80000, SOCK_NONBLOCK = 0x800, AF_INET = 2;
    public const int EAGAIN = 11, EINTR = 4;

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentPid();

    /// <summary>This process's parent; it changes (to init or a subreaper) the moment the parent dies.</summary>
    public static int ParentPid => GetParentPid();

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static partial int Accept4(int fd, nint address, nint addressLength, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int DupFd(int fd);

    /// <summary>A second descriptor for the same open file; unlike .NET's own, it survives exec (dup(2) never sets FD_CLOEXEC).</summary>
    public static int Dup(int fd)
    {
        int copy = DupFd(fd);
        if (copy < 0) throw new IOException($"dup({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
        return copy;
    }

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int fd, int target);

    /// <summary>
    /// Points stdout where stderr goes, and returns a new descriptor for what stdout was. The new one is
    /// close-on-exec, so programs this process starts do not hold it open after it exits.
    /// </summary>
    public static int MoveStdoutToStderr()
    {
        const int F_DUPFD_CLOEXEC = 1030;
        int copy = Fcntl(1, F_DUPFD_CLOEXEC, 3);
        if (copy < 0 || Dup2(2, 1) < 0) throw new IOException($"moving stdout aside failed: errno {Marshal.GetLastPInvokeError()}");
        return copy;
    }

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteFd(int fd, byte* buffer, nuint count);

    /// <summary>
    /// write(2) until all is out. Unlike a FileStream, it keeps no position of its own: on a file shared by
    /// several processes (a dup of stdout redirected to a file) each write lands at the shared offset.
    /// </summary>
    public static unsafe void WriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = WriteFd(fd, start + done, (nuint)(bytes.Length - done));
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    throw new IOException($"write({fd}) failed: errno {errno}");
                }
                done += (int)n;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "setgroups", SetLastError = true)]
    private static partial int SetGroups(nuint size, nint list);

    [LibraryImport("libc", EntryPoint = "setgid", SetLastError = true)]
    private static partial int SetGid(uint gid);

    [LibraryImport("libc", EntryPoint = "setuid", SetLastError = true)]
    private static partial int SetUid(uint uid);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, int uid, int gid);

    /// <summary>Hands a file the master created to the user the workers will run as.</summary>
    public static void ChangeOwner(string path, int uid, int gid)
    {
        if (Chown(path, uid, gid) < 0) throw new IOException($"chown {path} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    /// <summary>Anonymous shared memory with no name in the file system; its descriptor is inheritable (no MFD_CLOEXEC).</summary>
    public static int CreateSharedMemory(string name, int size)
    {
        int fd = MemfdCreate(name, 0);
        if (fd < 0 || Ftruncate(fd, size) < 0) throw new IOException($"memfd_create failed: errno {Marshal.GetLastPInvokeError()}");
        return fd;
    }

    /// <summary>Maps shared memory for the life of the process.</summary>
    public static unsafe byte* MapShared(int fd, int size)
    {
        const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
        nint address = Mmap(0, (nuint)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (address == -1) throw new IOException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        return (byte*)address;
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static unsafe partial int SocketPairRaw(int domain, int type, int protocol, int* fds);

    /// <summary>A connected pair of Unix stream sockets, close-on-exec.</summary>
    public static unsafe (int, int) SocketPair()
    {
        const int AF_UNIX = 1, SOCK_STREAM = 1;
        int* fds = stackalloc int[2];
        if (SocketPairRaw(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
            throw new IOException($"socketpair failed: errno {Marshal.GetLastPInvokeError()}");
        return (fds[0], fds[1]);
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    public static int CurrentUid => (int)GetEuid();

    [LibraryImport("libc", EntryPoint = "getpwnam", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetPwNam(string name);

    [LibraryImport("libc", EntryPoint = "getgrnam", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetGrNam(string name);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>Lets a descriptor survive exec, so a spawned worker inherits it (.NET opens everything close-on-exec).</summary>
    public static void ClearCloseOnExec(int fd)
    {
        int flags = Fcntl(fd, F_GETFD, 0);
        if (flags < 0 || Fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
            throw new IOException($"fcntl({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// Accepts one connection from a non-blocking listening socket: the new descriptor, non-blocking already (no fcntl
    /// to follow), or -1 with errno (EAGAIN when another worker took the connection). accept4 fills in the peer's
    /// address for nothing: an IPv4 one is kept in <paramref name="ipv4Peer"/> as the first 8 bytes of its sockaddr_in
    /// (family, port, address), so nobody has to ask the kernel for it later; 0 for any other family.
    /// </summary>
    public static unsafe int Accept(int listenFd, out int errno, out long ipv4Peer)
    {
        // Room for a sockaddr_in6: a larger address is cut short, which does not matter here.
        long* address = stackalloc long[4];
        int length = 4 * sizeof(long);
        int fd = Accept4(listenFd, (nint)address, (nint)(&length), SOCK_CLOEXEC | SOCK_NONBLOCK);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        ipv4Peer = fd >= 0 && *(ushort*)address == AF_INET ? address[0] : 0;
        return fd;
    }

    /// <summary>
    /// Makes a listening socket non-blocking, for every process that shares it: each worker waits for it (epoll or
    /// poll) and then tries accept, which another worker may have beaten it to.
    /// </summary>
    public static void SetNonBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        if (flags < 0 || Fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
            throw new IOException($"fcntl({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// SO_REUSEADDR, so a restarted server need not wait out the TIME_WAIT connections of its previous life;
    /// SO_REUSEPORT only when asked for. (.NET's SocketOptionName.ReuseAddress sets both on Linux, and with
    /// SO_REUSEPORT a second server binds an address in use and the kernel splits its traffic between them.)
    /// </summary>
    public static unsafe void SetReuseAddress(int fd, bool sharePort)
    {
        int on = 1;
        if (SetSockOpt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(int)) < 0
            || (sharePort && SetSockOpt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(int)) < 0))
            throw new IOException($"setsockopt(SO_REUSEADDR/SO_REUSEPORT) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for a connection on any of the listening sockets, without taking
    /// it. Returns the socket that has one (when several do, taking turns from <paramref name="turn"/>, so no
    /// listener starves another), or -1.
    /// </summary>
    public static unsafe int WaitForConnection(int[] listenFds, TimeSpan timeout, ref int turn)
    {
        var pfds = stackalloc PollFd[listenFds.Length];
        for (int i = 0; i < listenFds.Length; i++) pfds[i] = new PollFd { Fd = listenFds[i], Events = 1 /* POLLIN */ };
        if (Poll(pfds, (nuint)listenFds.Length, (int)timeout.TotalMilliseconds) <= 0) return -1;
        for (int i = 0; i < listenFds.Length; i++)
        {
            int at = (turn + i) % listenFds.Length;
            if ((pfds[at].Revents & 1) == 0) continue;
            turn = at + 1;
            return listenFds[at];
        }
        return -1;
    }

    /// <summary>
    /// Gives up root for good: supplementary groups, then group, then user (in that order, since only root may
    /// change groups). glibc applies each to every thread of the process.
    /// </summary>
    public static void DropPrivileges(int uid, int gid)
    {
        if (gid >= 0 && (SetGroups(0, 0) < 0 || SetGid((uint)gid) < 0))
            throw new IOException($"cannot switch to group {gid}: errno {Marshal.GetLastPInvokeError()}");
        if (uid >= 0 && SetUid((uint)uid) < 0)
            throw new IOException($"cannot switch to user {uid}: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>A user's uid and primary gid, by name or number; null if there is no such user.</summary>
    public static (int Uid, int Gid)? LookUpUser(string name)
    {
        nint entry = GetPwNam(name);
        // struct passwd: char *pw_name; char *pw_passwd; uid_t pw_uid; gid_t pw_gid; ...
        if (entry != 0) return (Marshal.ReadInt32(entry, 2 * IntPtr.Size), Marshal.ReadInt32(entry, 2 * IntPtr.Size + 4));
        return int.TryParse(name, out int uid) && uid >= 0 ? (uid, -1) : null;
    }

    /// <summary>A group's gid, by name or number; null if there is no such group.</summary>
    public static int? LookUpGroup(string name)
    {
        nint entry = GetGrNam(name);
        // struct group: char *gr_name; char *gr_passwd; gid_t gr_gid; ...
        if (entry != 0) return Marshal.ReadInt32(entry, 2 * IntPtr.Size);
        return int.TryParse(name, out int gid) && gid >= 0 ? gid : null;
    }
}
