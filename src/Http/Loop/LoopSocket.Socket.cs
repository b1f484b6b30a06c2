using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Prefork.Http.Loop;

/// <summary>
/// What a connection asks of its socket besides reading, writing and sending files, as plain syscalls on the descriptor: a
/// <see cref="Socket"/> made around an accepted descriptor asks the kernel ten questions first (type, protocol,
/// options, addresses, blocking mode), which for a short connection is as many syscalls as serving it. Calls
/// that other threads make (a deadline's shutdown, an app's abort) hold the handle while they run, so a
/// descriptor closed meanwhile is never one the kernel has handed to another connection.
/// </summary>
public sealed partial class LoopSocket
{
    private const int SOL_SOCKET = 1, SO_LINGER = 13, FIONREAD = 0x541B;
    private const int AF_INET = 2, AF_INET6 = 10;

    /// <summary>shutdown(2); false when the socket is closed or the peer is gone already.</summary>
    public bool Shutdown(SocketShutdown how) => Call(how, static (fd, how) => ShutdownFd(fd, (int)how));

    /// <summary>Makes the close a reset (SO_LINGER with a zero timeout): nothing queued is sent.</summary>
    public unsafe bool ResetOnClose() => Call(0, static (fd, _) =>
    {
        int* linger = stackalloc int[2] { 1, 0 };
        return SetSockOpt(fd, SOL_SOCKET, SO_LINGER, linger, 2 * sizeof(int));
    });

    /// <summary>Bytes received and not yet read (FIONREAD); 0 when that cannot be told.</summary>
    public unsafe int Available
    {
        get
        {
            int n = 0;
            return Call((nint)(&n), static (fd, p) => Ioctl(fd, FIONREAD, (int*)p)) ? n : 0;
        }
    }

    /// <summary>The peer's address: as accept gave it for an IPv4 peer, else asked of the kernel (getpeername).</summary>
    public unsafe IPEndPoint? RemoteEndPoint
    {
        get
        {
            long accepted = _handle?.Ipv4Peer ?? 0;
            return accepted != 0 ? EndPoint((byte*)&accepted) : Address(peer: true);
        }
    }

    public IPEndPoint? LocalEndPoint => Address(peer: false);

    private unsafe IPEndPoint? Address(bool peer)
    {
        byte* address = stackalloc byte[128];
        int length = 128;
        var call = peer ? (delegate*<int, byte*, int*, int>)&GetPeerName : &GetSockName;
        if (!Call(((nint)address, (nint)(&length), (nint)call),
                static (fd, a) => ((delegate*<int, byte*, int*, int>)a.Item3)(fd, (byte*)a.Item1, (int*)a.Item2))) return null;
        return EndPoint(address);
    }

    /// <summary>An IPv4 or IPv6 sockaddr as an endpoint; null for another family (a Unix socket).</summary>
    private static unsafe IPEndPoint? EndPoint(byte* address)
    {
        int port = address[2] << 8 | address[3];
        return *(ushort*)address switch
        {
            AF_INET => new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 4, 4)), port),
            AF_INET6 => new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 8, 16), *(uint*)(address + 24)), port),
            _ => null,
        };
    }

    /// <summary>Runs a syscall on the descriptor while holding the handle; false when it failed or the socket is closed.</summary>
    private bool Call<T>(T argument, Func<int, T, int> call)
    {
        bool added = false;
        try
        {
            _handle!.DangerousAddRef(ref added);
            return call((int)_handle.DangerousGetHandle(), argument) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) _handle!.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    private static partial int ShutdownFd(int fd, int how);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int Ioctl(int fd, nint request, int* value);

    [LibraryImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    private static unsafe partial int GetPeerName(int fd, byte* address, int* length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    private static unsafe partial int GetSockName(int fd, byte* address, int* length);

}
