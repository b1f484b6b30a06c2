using System.Runtime.InteropServices;

namespace Prefork;

/// <summary>
/// Stops a TCP listening socket's intake without closing it: a socket filter that drops every segment that
/// opens a connection (SYN without ACK). What is already queued, or halfway through its handshake, still
/// arrives and can be accepted; a client that comes later gets no answer, retries, and is refused once the
/// socket is gone. Closing a listening socket resets whatever its queue holds, requests included: when the
/// last server on a socket stops, it seals the socket, empties the queue, and only then closes it, so the
/// queue cannot fill again in between (clients told "Connection: close" by the drain reconnect at once).
/// The filter goes with the socket, not the process: never seal one that another server still accepts on.
/// </summary>
public static partial class ListenerSeal
{
    private const int SOL_SOCKET = 1, SO_ATTACH_FILTER = 26, SO_DOMAIN = 39;
    private const int AF_INET = 2, AF_INET6 = 10;
    // Classic BPF over the TCP header (a socket filter sees the segment from its transport header on).
    private const ushort LdAbsByte = 0x30, AndK = 0x54, JeqK = 0x15, RetK = 0x06;
    private const int TcpFlagsOffset = 13, Syn = 0x02, Ack = 0x10;

    [StructLayout(LayoutKind.Sequential)]
    private struct Instruction(ushort code, byte jumpIfTrue, byte jumpIfFalse, uint k)
    {
        public ushort Code = code;
        public byte JumpIfTrue = jumpIfTrue;
        public byte JumpIfFalse = jumpIfFalse;
        public uint K = k;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Program
    {
        public ushort Length;
        public Instruction* Instructions;
    }

    /// <summary>True when sealed; false for a socket that is not TCP (a Unix socket has no handshake to drop) or on failure.</summary>
    public static unsafe bool TrySeal(int fd)
    {
        int domain = 0, size = sizeof(int);
        if (GetSockOpt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0 || domain is not (AF_INET or AF_INET6)) return false;
        Instruction* code = stackalloc Instruction[]
        {
            new(LdAbsByte, 0, 0, TcpFlagsOffset),
            new(AndK, 0, 0, Syn | Ack),
            new(JeqK, 0, 1, Syn),
            new(RetK, 0, 0, 0),            // a connection's first SYN: dropped
            new(RetK, 0, 0, uint.MaxValue), // the rest: kept whole
        };
        var program = new Program { Length = 5, Instructions = code };
        return SetSockOpt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(Program)) == 0;
    }

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, int* length);
}
