using System.Runtime.InteropServices;

namespace Prefork.Http.Loop;

/// <summary>
/// An accepted socket's descriptor, closed with a plain close(2). .NET's own SafeSocketHandle, closed by anyone
/// but its Socket, first sets SO_LINGER to zero (unless its Socket shut the sending side), which turns a
/// graceful close into a reset that can destroy the response before the client reads it.
/// </summary>
public sealed partial class SocketHandle : SafeHandle
{
    /// <param name="ipv4Peer">The peer's address as accept gave it (see Native.Accept), or 0 to ask the kernel when wanted.</param>
    public SocketHandle(nint fd, long ipv4Peer = 0) : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
        Ipv4Peer = ipv4Peer;
    }

    public long Ipv4Peer { get; }

    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => Close((int)handle) == 0;

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
