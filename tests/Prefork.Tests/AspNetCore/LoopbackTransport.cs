using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Prefork.App;
using Prefork.AspNetCore;
using Prefork.Http;
using Prefork.Http.Loop;
using Prefork.Http.Tls;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The engine on a loopback socket of its own, for an ASP.NET Core app in the test process: connections are
/// accepted here and served by <see cref="HttpConnection"/> on the event loop, as a worker serves them. The
/// socket listens only once the server starts, so a client that comes before gets refused, not kept waiting.
/// Its connections' deadlines are kept by the loop's one-second tick, as in a worker.
/// </summary>
internal sealed class LoopbackTransport : IServerTransport, IConnectionHost, IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly ConcurrentDictionary<HttpConnection, byte> _connections = new();
    private readonly TlsServer? _tls;
    private IHttpApp? _app;

    /// <param name="tls">Serve TLS with this certificate, as a worker's TLS listener does.</param>
    /// <param name="proxyTrust">Whom to believe about clients (PROXY protocol, X-Forwarded-*), as a worker's flags say.</param>
    public LoopbackTransport(HttpLimits? limits = null, TlsServer? tls = null, ProxyTrust? proxyTrust = null)
    {
        Limits = limits ?? new();
        _tls = tls;
        ProxyTrust = proxyTrust;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        // The tick lives as long as the process: once the transport is gone it finds no connections.
        EventLoop.Shared.EverySecond(() =>
        {
            long now = Environment.TickCount64;
            foreach (var connection in _connections.Keys) connection.CheckDeadline(now);
        });
    }

    public IReadOnlyList<string> Addresses => [$"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}"];

    public void Start(IHttpApp app)
    {
        _app = app;
        _listener.Listen();
        _ = AcceptAsync();
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _listener.Dispose();
        return Task.CompletedTask;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var connection = HttpConnection.Of(await _listener.AcceptAsync(), this, _tls);
                _connections[connection] = 0;
                connection.Start();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    public HttpLimits Limits { get; }
    public ProxyTrust? ProxyTrust { get; }
    public IHttpApp App => _app ?? throw new InvalidOperationException("not started");
    public bool KeepAliveAllowed => true;
    public void RequestServed() { }
    public void Closed(HttpConnection connection) => _connections.TryRemove(connection, out _);

    public void Dispose() => _listener.Dispose();
}
