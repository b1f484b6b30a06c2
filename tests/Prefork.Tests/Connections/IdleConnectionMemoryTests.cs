using System.Net;
using System.Net.Sockets;
using System.Text;
using Prefork.App;
using Prefork.Http;
using Prefork.Http.Loop;
using Xunit.Abstractions;

namespace Prefork.Tests.Connections;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneInProcess
{
    // Reads the process's whole managed heap: nothing else may allocate meanwhile.
    public const string Name = "alone in the test process";
}

/// <summary>
/// What an idle keep-alive connection keeps on the managed heap, measured in this process: the server side of
/// many connections, each having been answered once, is accepted and served after a first reading of the heap
/// and read again once every one waits for its next request. The clients' sockets exist before the first reading.
/// </summary>
[Collection(AloneInProcess.Name)]
public sealed class IdleConnectionMemoryTests(ITestOutputHelper output)
{
    private const int Connections = 2000;

    // Measured (Debug, which boxes every async method's state machine): about 11,600 bytes while every
    // connection kept its buffers between requests; about 2,200 (2,640 on this machine) once it gave them back;
    // about 1,560 (Release too) once it parked outside any async method and lost its per-connection delegates.
    // About 1,070 once a connection was a plain descriptor instead of .NET's Socket (its handle, async context
    // and two end points were about 540). About 650 once an idle connection gave back its request, response and
    // head with their buffers (an exchange, lent to a connection only while it has a request); about 590 once a
    // socket's two Readiness were structs inside it.
    private const long Bound = 700;

    [Fact]
    public async Task An_idle_keep_alive_connection_keeps_little_memory()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(Connections + 100);
        var host = new Host();
        // Warm up: the loop, the pools and the JIT.
        await ServeAsync(listener, host, Connect(listener, 50));

        var clients = Connect(listener, Connections);
        long before = SettledHeap();
        var connections = await ServeAsync(listener, host, clients);
        long after = SettledHeap();
        long perConnection = (after - before) / Connections;
        output.WriteLine($"{perConnection} bytes of managed heap per idle keep-alive connection");
        GC.KeepAlive(connections);
        foreach (var client in clients) client.Dispose();
        Assert.True(perConnection <= Bound, $"{perConnection} bytes per idle connection, more than {Bound}");
    }

    private static List<Socket> Connect(Socket listener, int count)
    {
        var request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
        var clients = new List<Socket>(count);
        for (int i = 0; i < count; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            client.Send(request);
            clients.Add(client);
        }
        return clients;
    }

    /// <summary>Accepts one connection for each client and serves it until it is answered and idle again.</summary>
    private static async Task<List<HttpConnection>> ServeAsync(Socket listener, Host host, List<Socket> clients)
    {
        var connections = new List<HttpConnection>(clients.Count);
        for (int i = 0; i < clients.Count; i++)
        {
            int fd = Native.Accept((int)listener.Handle, out _, out _);
            var connection = new HttpConnection(new SocketHandle(fd), host);
            connections.Add(connection);
            connection.Start();
        }
        var response = new byte[256];
        foreach (var client in clients)
        {
            int n = client.Receive(response);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(response, 0, n));
        }
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await OnLoop(() => connections.TrueForAll(c => c.IsIdle)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the connections did not go idle");
            await Task.Delay(10);
        }
        return connections;
    }

    private static Task<bool> OnLoop(Func<bool> check)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        EventLoop.Shared.Post(_ => done.SetResult(check()), null);
        return done.Task;
    }

    private static long SettledHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private sealed class Host : IConnectionHost, IHttpApp
    {
        public HttpLimits Limits { get; } = new() { KeepAlive = TimeSpan.FromMinutes(5) };
        public IHttpApp App => this;
        public bool KeepAliveAllowed => true;
        public void RequestServed() { }
        public void Closed(HttpConnection connection) { }

        public ValueTask HandleAsync(HttpRequest request, HttpResponse response)
        {
            response.Send(200, "text/plain", "Hello, World!");
            return default;
        }
    }
}
