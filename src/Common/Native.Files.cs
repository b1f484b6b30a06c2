using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Prefork;

/// <summary>Files: opening them as the log and the static files need, resolving paths, and what statx(2) says of them.</summary>
public static partial class Native
{
    private const int O_RDONLY = 0, O_WRONLY = 0x1, O_CREAT = 0x40, O_NOCTTY = 0x100, O_APPEND = 0x400,
        O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    // A file to serve is opened as nginx opens it: O_NONBLOCK, so that a FIFO in the tree opens at once (to be
    // refused once stated) rather than waiting for a writer, and O_NOCTTY, so that a terminal never becomes ours.
    private const int ServeFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    private const int EPERM = 1, ENOENT = 2, EACCES = 13, ENOTDIR = 20, ENOSYS = 38;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_BASIC_STATS = 0x7ff;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    /// <summary>
    /// Opens a file for appending with O_APPEND, so that every write(2) lands at the end even when other
    /// processes write to the same file. (.NET's FileMode.Append only seeks to the end once; its writes then
    /// go to its own offset and overwrite what other processes appended meanwhile.)
    /// </summary>
    public static SafeFileHandle OpenAppend(string path)
    {
        int fd = Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_100_100);
        if (fd < 0) throw OpenFailure(path, Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Opens a file to serve, or null when the path names nothing. One open(2): .NET's own open adds an fstat, and
    /// a flock(2) to lock it and another to unlock it, which a file only read through sendfile has no use for.
    /// </summary>
    public static SafeFileHandle? OpenRead(string path)
    {
        int fd = Open(path, ServeFlags, 0);
        if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
        int errno = Marshal.GetLastPInvokeError();
        if (errno is ENOENT or ENOTDIR) return null;
        throw OpenFailure(path, errno);
    }

    /// <summary>A directory held only to resolve paths below it (O_PATH: it cannot be read through).</summary>
    public static SafeFileHandle OpenDirectory(string path)
    {
        int fd = Open(path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) throw OpenFailure(path, Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private const int OpenAt2Call = 437; // the same number on every architecture
    private const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_BENEATH = 0x08;

    // Set once the kernel said it has no openat2 (before 5.6, e.g. RHEL 8's 4.18): no lookup asks again.
    private static bool _noOpenAt2;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int OpenAt2(nint call, int dirFd, string path, ulong* how, nuint size);

    /// <summary>Which way <see cref="OpenBeneath"/> went.</summary>
    public enum Beneath { Opened, NotFound, Denied, Undecided }

    /// <summary>
    /// Opens a relative path to serve, resolved by the kernel (symlinks and all) without ever leaving
    /// <paramref name="directory"/>: openat2(2) with RESOLVE_BENEATH, one syscall that both checks and opens, so
    /// nothing can be swapped between the two. Undecided when that kernel rule refuses what a looser one may allow
    /// (an absolute symlink that leads back inside, a ".." that climbs out through a symlink and back) or when the
    /// kernel has no openat2: the caller then resolves the path itself.
    /// </summary>
    public static unsafe Beneath OpenBeneath(SafeFileHandle directory, string relative, out SafeFileHandle? file)
    {
        file = null;
        if (_noOpenAt2) return Beneath.Undecided;
        ulong* how = stackalloc ulong[3] { (ulong)ServeFlags, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
        bool added = false;
        directory.DangerousAddRef(ref added);
        try
        {
            int fd = OpenAt2(OpenAt2Call, (int)directory.DangerousGetHandle(), relative, how, 3 * sizeof(ulong));
            if (fd >= 0)
            {
                file = new SafeFileHandle(fd, ownsHandle: true);
                return Beneath.Opened;
            }
        }
        finally
        {
            if (added) directory.DangerousRelease();
        }
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ENOSYS) _noOpenAt2 = true;
        return errno switch
        {
            ENOENT or ENOTDIR => Beneath.NotFound,
            EACCES => Beneath.Denied,
            // EXDEV (it would leave the directory), ENOSYS, EPERM from a seccomp filter, EAGAIN from a rename racing it.
            _ => Beneath.Undecided,
        };
    }

    private static Exception OpenFailure(string path, int errno)
    {
        var message = $"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}";
        return errno is EPERM or EACCES ? new UnauthorizedAccessException(message) : new IOException(message);
    }

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    /// <summary>
    /// The path with every symlink, "." and ".." resolved by the kernel's own rules (realpath(3)), or null
    /// when it does not exist: the one answer to "where does this path really lead".
    /// </summary>
    public static string? ResolvePath(string path)
    {
        nint resolved = RealPath(path, 0);
        if (resolved == 0) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatX(int dirFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// What the kernel knows of an open file, in one statx(2) (its layout is the same on every architecture, unlike
    /// stat's): the version of it this descriptor reads, whatever its path names now.
    /// </summary>
    public static unsafe FileVersion? Stat(SafeFileHandle file)
    {
        byte* b = stackalloc byte[256];
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            if (StatX((int)file.DangerousGetHandle(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, b) != 0) return null;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
        static long Nanoseconds(byte* t) => *(long*)t * 1_000_000_000 + *(uint*)(t + 8);
        ushort mode = *(ushort*)(b + 28);
        var kind = (mode & 0xF000) switch { 0x8000 => FileKind.Regular, 0x4000 => FileKind.Directory, _ => FileKind.Other };
        // stx_dev_major and stx_dev_minor at 136 and 140; stx_ino 32, stx_size 40, stx_ctime 96, stx_mtime 112.
        ulong device = (ulong)*(uint*)(b + 136) << 32 | *(uint*)(b + 140);
        return new FileVersion(kind, device, *(ulong*)(b + 32), *(long*)(b + 40), Nanoseconds(b + 112), Nanoseconds(b + 96));
    }
}
