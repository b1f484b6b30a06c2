using System.Net;
using System.Net.Sockets;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// The listening sockets. Only the master binds; each socket's descriptor is made inheritable and handed to
/// every worker, so all workers accept from one kernel queue and nothing in it is lost when a worker dies.
/// On Windows the seam is here: there a socket would go to each worker with Socket.DuplicateAndClose.
/// </summary>
public sealed class Listeners : IDisposable
{
    private readonly List<(BindAddress Bind, Socket Socket)> _sockets = new();
    private bool _handedOver, _oldMasterServes;
    private Scoreboard? _board;

    public IReadOnlyList<int> Fds => _sockets.Select(s => Fd(s.Socket)).ToList();

    /// <summary>Those of <see cref="Fds"/> that speak TLS.</summary>
    public IReadOnlyList<int> TlsFds => _sockets.Where(s => s.Bind.IsTls).Select(s => Fd(s.Socket)).ToList();

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    /// <summary>
    /// Inherited sockets speak TLS as the --bind in the same place on the command line says: the old master of a
    /// binary upgrade hands them over in its order, systemd in its socket unit's (the README says to keep them alike).
    /// </summary>
    public void MarkTls(IReadOnlyList<BindAddress> binds)
    {
        for (int i = 0; i < _sockets.Count && i < binds.Count; i++) _sockets[i] = _sockets[i] with { Bind = _sockets[i].Bind with { Tls = binds[i].Tls } };
    }

    /// <summary>
    /// Binds every address or none: the first failure closes what was opened and says why in one line. An
    /// address another socket listens on is refused, unless both set <paramref name="reusePort"/> (--reuse-port).
    /// </summary>
    public static Listeners Open(IEnumerable<BindAddress> binds, int backlog, bool reusePort)
    {
        var listeners = new Listeners();
        try
        {
            foreach (var bind in binds) listeners._sockets.Add((bind, Listen(bind, backlog, reusePort)));
            return listeners;
        }
        catch
        {
            listeners.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Takes over sockets another process bound: systemd's socket activation (LISTEN_FDS) or the old master
    /// of a binary upgrade (PREFORK_INHERIT_FDS). Nothing is bound, so no connection waiting on them is lost.
    /// </summary>
    public static Listeners Inherit(IEnumerable<int> fds, bool fromSystemd)
    {
        // systemd owns the Unix socket files it made; a previous master hands ownership over with the sockets.
        var listeners = new Listeners { HandedOver = fromSystemd };
        foreach (var fd in fds)
        {
            Native.ClearCloseOnExec(fd);
            var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
            var bind = new BindAddress(socket.LocalEndPoint?.ToString() ?? $"fd {fd}", socket.LocalEndPoint!);
            listeners._sockets.Add((bind, socket));
        }
        return listeners;
    }

    /// <summary>
    /// The sockets this master was handed instead of binding its own: by the old master of a binary upgrade,
    /// or by systemd (LISTEN_FDS, LISTEN_PID; sd_listen_fds(3): descriptors from 3 on). Null if neither.
    /// </summary>
    public static Listeners? FromEnvironment()
    {
        var inherited = Environment.GetEnvironmentVariable(BinaryUpgrade.InheritFdsVariable);
        Environment.SetEnvironmentVariable(BinaryUpgrade.InheritFdsVariable, null);
        if (!string.IsNullOrEmpty(inherited)) return Inherit(inherited.Split(',').Select(int.Parse), fromSystemd: false);

        var listenPid = Environment.GetEnvironmentVariable("LISTEN_PID");
        var listenFds = Environment.GetEnvironmentVariable("LISTEN_FDS");
        foreach (var name in new[] { "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES" }) Environment.SetEnvironmentVariable(name, null);
        if (listenPid != Environment.ProcessId.ToString() || !int.TryParse(listenFds, out int count) || count < 1) return null;
        return Inherit(Enumerable.Range(3, count), fromSystemd: true);
    }

    /// <summary>Set when another process owns the sockets too (a new master, systemd): Unix socket files are then left in place.</summary>
    public bool HandedOver
    {
        get => _handedOver;
        set
        {
            _handedOver = value;
            Publish();
        }
    }

    /// <summary>Set in the new master of a binary upgrade until it tells the old master, still accepting on the sockets, to go.</summary>
    public bool OldMasterServes
    {
        get => _oldMasterServes;
        set
        {
            _oldMasterServes = value;
            Publish();
        }
    }

    /// <summary>Where the workers read whether another server accepts on these sockets (and so whether they may seal them).</summary>
    public Scoreboard? Board
    {
        get => _board;
        set
        {
            _board = value;
            Publish();
        }
    }

    private void Publish()
    {
        if (_board != null) _board.ListenersShared = _handedOver || _oldMasterServes;
    }

    /// <summary>The addresses as clients reach them, with the port the kernel picked for port 0.</summary>
    public IEnumerable<string> Urls => _sockets.Select(s => s.Socket.LocalEndPoint switch
    {
        IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"{Scheme(s.Bind)}://[{ip.Address}]:{ip.Port}",
        IPEndPoint ip => $"{Scheme(s.Bind)}://{ip.Address}:{ip.Port}",
        UnixDomainSocketEndPoint unix => $"unix:{unix}",
        _ => s.Bind.Text,
    });

    private static string Scheme(BindAddress bind) => bind.IsTls ? "https" : "http";

    private static Socket Listen(BindAddress bind, int backlog, bool reusePort)
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
            Native.SetReuseAddress((int)socket.SafeHandle.DangerousGetHandle(), sharePort: reusePort);
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

    internal static string Describe(SocketException e) => e.SocketErrorCode switch
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
            if (bind.EndPoint is UnixDomainSocketEndPoint unix && !HandedOver) File.Delete(unix.ToString());
        }
        _sockets.Clear();
    }
}

public sealed class ListenException(string message) : Exception(message);
