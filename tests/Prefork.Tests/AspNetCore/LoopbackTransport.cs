using System.Net;
using System.Net.Sockets;
using Prefork.App;
using Prefork.AspNetCore;
using Prefork.Http;
using Prefork.Http.Loop;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The engine on a loopback socket of its own, for an ASP.NET Core app in the test process: connections are
/// accepted here and served by <see cref="HttpConnection"/> on the event loop, as a worker serves them. The
/// socket listens only once the server starts, so a client that comes before gets refused, not kept waiting.
/// </summary>
internal sealed class LoopbackTransport : IServerTransport, IConnectionHost, IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private IHttpApp? _app;

    public LoopbackTransport() => _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));

    public IReadOnlyList<string> Addresses => [$"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}"];
    public long MaxRequestBodySize => Limits.MaxBodySize;

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
                var connection = new HttpConnection(await _listener.AcceptAsync(), this);
                EventLoop.Shared.Post(static c => _ = ((HttpConnection)c!).RunAsync(), connection);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    public HttpLimits Limits { get; } = new();
    public IHttpApp App => _app ?? throw new InvalidOperationException("not started");
    public bool KeepAliveAllowed => true;
    public void RequestServed() { }
    public void Closed(HttpConnection connection) { }

    public void Dispose() => _listener.Dispose();
}
