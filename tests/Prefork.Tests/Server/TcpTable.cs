using System.Globalization;

namespace Prefork.Tests.Server;

/// <summary>
/// What the kernel's TCP table (/proc/net/tcp and tcp6) says about one connection, seen from either end: its
/// state, the bytes it has not yet had acknowledged or read, and the inode of its socket. It lists every
/// process's sockets, so a test can watch the server's end of its own client connection. Linux only.
/// </summary>
public static class TcpTable
{
    public enum State { Established = 1, SynSent, SynReceived, FinWait1, FinWait2, TimeWait, Close, CloseWait, LastAck, Listen, Closing }

    /// <param name="Unacknowledged">Bytes written but not yet acknowledged by the peer's kernel (tx_queue).</param>
    /// <param name="Unread">Bytes received but not yet read by the process that holds the socket (rx_queue).</param>
    /// <param name="Inode">The socket's inode; 0 until a process accepts it.</param>
    public readonly record struct Entry(int LocalPort, int RemotePort, State State, long Unacknowledged, long Unread, long Inode);

    /// <summary>The entry of the connection from <paramref name="localPort"/> to <paramref name="remotePort"/>; null when the kernel no longer lists it.</summary>
    public static Entry? Find(int localPort, int remotePort)
    {
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                if (Parse(line) is { } e && e.LocalPort == localPort && e.RemotePort == remotePort) return e;
            }
        }
        return null;
    }

    /// <summary>
    /// Waits (bounded) until the server has read all the client sent: the client's end has nothing left
    /// unacknowledged, and the server's end has been accepted and has nothing left unread. Returns the server's end.
    /// </summary>
    public static async Task<Entry> WaitUntilServerHasReadAsync(int serverPort, int clientPort, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Entry? client = Find(clientPort, serverPort), server = Find(serverPort, clientPort);
            if (client is { Unacknowledged: 0 } && server is { Inode: not 0, Unread: 0 } s) return s;
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"the server has not read what client port {clientPort} sent within {timeout.TotalSeconds:0} s: client {client}, server {server}");
            await Task.Delay(10);
        }
    }

    // "  0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000 0 12345 ...":
    // addresses are hex IP:port, the state and both queues are hex, the inode is decimal.
    private static Entry? Parse(string line)
    {
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f.Length < 10) return null;
        var queues = f[4].Split(':');
        return new Entry(Port(f[1]), Port(f[2]), (State)Hex(f[3]), Hex(queues[0]), Hex(queues[1]), long.Parse(f[9], CultureInfo.InvariantCulture));
    }

    private static int Port(string address) => (int)Hex(address[(address.LastIndexOf(':') + 1)..]);

    private static long Hex(string text) => long.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
