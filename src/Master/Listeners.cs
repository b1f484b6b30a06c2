using System.Net;
using System.Net.Sockets;

namespace Prefork.Master;

/// <summary>
/// The listening sockets. Only the master binds; each socket's descriptor is made inheritable and handed to
/// every worker, so all workers accept from one kernel queue and nothing in it is lost when a worker dies.
/// On Windows the seam is here: there a socket would go to each worker with Socket.DuplicateAndClose.
/// </summary>
public sealed class Listeners : IDisposable
{
    private readonly List<(BindAddress Bind, Socket Socket)> _sockets = new();

    public IReadOnlyList<int> Fds => _sockets.Select(s => (int)s.Socket.SafeHandle.DangerousGetHandle()).ToList();

    /// <summary>Binds every address or none: the first failure closes what was opened and says why in one line.</summary>
    public static Listeners Open(IEnumerable<BindAddress> binds, int backlog)
    {
        var listeners = new Listeners();
        try
        {
            foreach (var bind in binds) listeners._sockets.Add((bind, Listen(bind, backlog)));
            return listeners;
        }
        catch
        {
            listeners.Dispose();
            throw;
        }
    }

    /// <summary>The addresses as clients reach them, with the port the kernel picked for port 0.</summary>
    public IEnumerable<string> Urls => _sockets.Select(s => s.Socket.LocalEndPoint switch
    {
        IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"http://[{ip.Address}]:{ip.Port}",
        IPEndPoint ip => $"http://{ip.Address}:{ip.Port}",
        _ => s.Bind.Text,
    });

    private static Socket Listen(BindAddress bind, int backlog)
    {
        Socket socket;
        if (bind.EndPoint is UnixDomainSocketEndPoint unix)
        {
            RemoveStaleSocketFile(unix.ToString());
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        else
        {
            socket = new Socket(bind.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // A restarted server must not wait out TIME_WAIT connections of its previous life.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (bind.EndPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
        }
        try
        {
            socket.Bind(bind.EndPoint);
            socket.Listen(backlog);
            Native.ClearCloseOnExec((int)socket.SafeHandle.DangerousGetHandle());
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ListenException($"cannot listen on {bind.Text}: {Describe(e)}");
        }
    }

    /// <summary>A socket file left by a server that died is removed; one a live server answers on is not.</summary>
    private static void RemoveStaleSocketFile(string path)
    {
        if (!File.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path);
            return;
        }
        throw new ListenException($"cannot listen on unix:{path}: another server is listening there");
    }

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AddressNotAvailable => "address not available on this machine",
        SocketError.AccessDenied => "permission denied (ports below 1024 need root)",
        _ => e.Message,
    };

    public void Dispose()
    {
        foreach (var (bind, socket) in _sockets)
        {
            socket.Dispose();
            if (bind.EndPoint is UnixDomainSocketEndPoint unix) File.Delete(unix.ToString());
        }
        _sockets.Clear();
    }
}

public sealed class ListenException(string message) : Exception(message);
