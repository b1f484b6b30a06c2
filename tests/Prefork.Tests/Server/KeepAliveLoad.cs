using System.Collections.Concurrent;

namespace Prefork.Tests.Server;

/// <summary>
/// Bounded load for the operational tests: N clients, each on its own keep-alive connection, sending GETs one
/// after another until stopped (or until a shared request budget is spent). A response carrying
/// "Connection: close" is the designed way to leave a draining worker, so the client opens a new connection
/// for its next request; anything else (an error status, an exception, a reset, a connection closed
/// without that header) is a failure.
/// </summary>
public sealed class KeepAliveLoad : IAsyncDisposable
{
    private const int MaxFailuresKept = 50;

    private readonly Func<Task<RawHttpConnection>> _connect;
    private readonly string _path;
    private readonly long _budget;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly Task[] _clients;
    private long _claimed, _succeeded, _connections, _closes;

    private KeepAliveLoad(Func<Task<RawHttpConnection>> connect, int clients, string path, long budget)
    {
        _connect = connect;
        _path = path;
        _budget = budget;
        _clients = Enumerable.Range(0, clients).Select(_ => Task.Run(ClientAsync)).ToArray();
    }

    /// <summary>Starts <paramref name="clients"/> clients on 127.0.0.1:<paramref name="port"/>; <paramref name="budget"/> caps the requests sent in all.</summary>
    public static KeepAliveLoad Start(int port, int clients, string path = "/hello", long budget = long.MaxValue) =>
        new(() => RawHttpConnection.ConnectAsync(port), clients, path, budget);

    public static KeepAliveLoad Start(Func<Task<RawHttpConnection>> connect, int clients, string path = "/hello", long budget = long.MaxValue) =>
        new(connect, clients, path, budget);

    public long Succeeded => Interlocked.Read(ref _succeeded);
    public long Connections => Interlocked.Read(ref _connections);
    /// <summary>Responses that said "Connection: close" (a draining or retiring worker).</summary>
    public long Closes => Interlocked.Read(ref _closes);
    public IReadOnlyList<string> Failures => _failures.ToList();

    /// <summary>Waits (bounded) until <paramref name="count"/> more requests than now have succeeded.</summary>
    public async Task WaitForMoreAsync(long count, TimeSpan timeout)
    {
        long target = Succeeded + count;
        var deadline = DateTime.UtcNow + timeout;
        while (Succeeded < target)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"load made {Succeeded} requests, wanted {target}; failures: {string.Join(" | ", Failures)}");
            if (_clients.All(c => c.IsCompleted)) throw new InvalidOperationException($"load ended early; failures: {string.Join(" | ", Failures)}");
            await Task.Delay(20);
        }
    }

    /// <summary>Stops the clients after their current request and waits for them (bounded).</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        var all = Task.WhenAll(_clients);
        if (await Task.WhenAny(all, Task.Delay(RawHttpConnection.DefaultTimeout + TimeSpan.FromSeconds(5))) != all)
            throw new TimeoutException("load clients did not stop");
    }

    /// <summary>Waits (bounded) until the request budget is spent and every client finished.</summary>
    public async Task CompleteAsync(TimeSpan timeout)
    {
        var all = Task.WhenAll(_clients);
        if (await Task.WhenAny(all, Task.Delay(timeout)) != all)
        {
            _stop.Cancel();
            throw new TimeoutException($"load not done in {timeout.TotalSeconds:0}s: {Succeeded} succeeded; failures: {string.Join(" | ", Failures)}");
        }
    }

    private async Task ClientAsync()
    {
        RawHttpConnection? connection = null;
        try
        {
            while (!_stop.IsCancellationRequested && _failures.Count < MaxFailuresKept)
            {
                if (Interlocked.Increment(ref _claimed) > _budget) return;
                try
                {
                    if (connection == null)
                    {
                        connection = await _connect();
                        Interlocked.Increment(ref _connections);
                    }
                    await connection.SendAsync($"GET {_path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                    var response = await connection.ReadResponseAsync();
                    if (response.Status != 200)
                    {
                        _failures.Enqueue($"status {response.Status}: {response}");
                    }
                    else
                    {
                        Interlocked.Increment(ref _succeeded);
                    }
                    if (string.Equals(response.Header("Connection"), "close", StringComparison.OrdinalIgnoreCase))
                    {
                        Interlocked.Increment(ref _closes);
                        await connection.DisposeAsync();
                        connection = null;
                    }
                }
                catch (Exception e)
                {
                    _failures.Enqueue($"{e.GetType().Name}: {e.Message}");
                    if (connection != null) await connection.DisposeAsync();
                    connection = null;
                }
            }
        }
        finally
        {
            if (connection != null) await connection.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WhenAny(Task.WhenAll(_clients), Task.Delay(TimeSpan.FromSeconds(25)));
    }
}
