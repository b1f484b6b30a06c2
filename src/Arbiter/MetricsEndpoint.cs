using System.Net;
using System.Net.Sockets;
using Prefork.App;
using Prefork.Control;
using Prefork.Http;
using Prefork.Http.Loop;

namespace Prefork.Master;

/// <summary>
/// --metrics-bind: the master's own small HTTP listener for /metrics (Prometheus text), /status (the
/// worker table), /healthz (the whole server's health, as --health-path tells it) and /livez (the master runs). It runs our own <see cref="HttpConnection"/> on a socket only the master holds (never
/// handed to workers, close-on-exec), so the numbers come from the one process that sees every worker.
/// </summary>
public sealed class MetricsEndpoint : IConnectionHost, IHttpApp, IDisposable
{
    private readonly Socket _socket;
    private readonly MasterMetrics _registry;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<HttpConnection, byte> _connections = new();

    private MetricsEndpoint(Socket socket, MasterMetrics registry)
    {
        _socket = socket;
        _registry = registry;
        // The connections' clock is the loop's own tick, as in the worker: no timer thread of its own.
        EventLoop.Shared.EverySecond(() =>
        {
            DateHeader.Refresh();
            long now = Environment.TickCount64;
            foreach (var c in _connections.Keys) c.CheckDeadline(now);
        });
    }

    /// <summary>"http://HOST:PORT/metrics" with the port the kernel picked for port 0.</summary>
    public string Url => _socket.LocalEndPoint is IPEndPoint ip
        ? $"http://{(ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip.Address}]" : ip.Address.ToString())}:{ip.Port}/metrics"
        : "?";

    /// <summary>Binds and starts accepting; throws <see cref="ListenException"/> with one line when it cannot.</summary>
    public static MetricsEndpoint Start(BindAddress bind, MasterMetrics registry)
    {
        var socket = new Socket(bind.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Never shared (no SO_REUSEPORT, whatever --reuse-port says): a scrape must reach this master.
            Native.SetReuseAddress((int)socket.SafeHandle.DangerousGetHandle(), sharePort: false);
            socket.Bind(bind.EndPoint);
            socket.Listen(64);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ListenException($"cannot listen on --metrics-bind {bind.Text}: {Listeners.Describe(e)}");
        }
        var endpoint = new MetricsEndpoint(socket, registry);
        _ = endpoint.AcceptLoopAsync();
        return endpoint;
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (!_socket.IsBound || e is ObjectDisposedException) return;
                continue;
            }
            var connection = HttpConnection.Of(client, this);
            _connections.TryAdd(connection, 0);
            _ = connection.RunAsync();
        }
    }

    public ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        if (request.Path == "/healthz")
        {
            Health.Answer(request, response, _registry.Serving);
        }
        else if (request.Path == "/livez")
        {
            // The master answering at all is the proof: it runs until its last worker has gone.
            Health.Answer(request, response, serving: true);
        }
        else if (request.Method is not (Method.Get or Method.Head))
        {
            response.AddHeader("Allow", "GET, HEAD");
            response.Send(405, "text/plain", "405 Method Not Allowed\n");
        }
        else if (request.Path == "/metrics")
        {
            response.Send(200, PrometheusText.ContentType, PrometheusText.Render(_registry.Snapshot()));
        }
        else if (request.Path == "/status")
        {
            response.Send(200, "text/plain; charset=utf-8", StatusTable.Render(_registry.Status()));
        }
        else
        {
            response.Send(404, "text/plain", "404 Not Found: try /metrics, /status, /healthz or /livez\n");
        }
        return ValueTask.CompletedTask;
    }

    // IConnectionHost: the engine's default limits and timeouts; nothing is logged or counted for a scrape.
    public HttpLimits Limits { get; } = new();
    public IHttpApp App => this;
    public bool KeepAliveAllowed => true;
    public void RequestServed() { }
    public void Closed(HttpConnection connection) => _connections.TryRemove(connection, out _);

    public void Dispose()
    {
        _socket.Dispose();
    }
}
