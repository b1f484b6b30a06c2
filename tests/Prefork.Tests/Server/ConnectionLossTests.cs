using System.Diagnostics;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// --worker-connections is a hard cap: past it a connection waits in the backlog while the held ones are busy,
/// and none is dropped (idle ones make room: ZeroLossTests).
/// </summary>
public class WorkerConnectionsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Third_connection_waits_in_the_backlog_while_two_are_busy()
    {
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--worker-class", "async", "--worker-connections", "2", "--keep-alive", "30"], output);
        await using var a = await RawHttpConnection.ConnectAsync(master.Port);
        await using var b = await RawHttpConnection.ConnectAsync(master.Port);
        var clock = Stopwatch.StartNew();
        foreach (var c in new[] { a, b }) await c.SendAsync("GET /sleep?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n");

        await using var third = await RawHttpConnection.ConnectAsync(master.Port);
        await third.SendAsync("GET /worker HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.False(await third.HasDataWithinAsync(TimeSpan.FromSeconds(1)), "a third connection was served while two were busy");

        var r = await third.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
        output.WriteLine($"third served {clock.ElapsedMilliseconds} ms after the two busy requests began");
        Assert.Equal(200, r.Status);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"third served after {clock.Elapsed.TotalSeconds:0.0} s, before a slot freed");
        foreach (var c in new[] { a, b }) Assert.StartsWith("slept 2000 ms", (await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10))).BodyText);
    }
}

/// <summary>One async worker; clients that vanish or half-close.</summary>
public sealed class LossServer : IAsyncLifetime
{
    public MasterProcess Master { get; private set; } = null!;

    public async Task InitializeAsync() => Master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "async"]);

    public async Task DisposeAsync() => await Master.DisposeAsync();
}

/// <summary>A client that goes away mid-request costs only its own connection; a half-close still gets its answer.</summary>
public class ConnectionLossTests(LossServer server, ITestOutputHelper output) : IClassFixture<LossServer>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private int Port => server.Master.Port;

    public static TheoryData<string, string, bool> Losses => new()
    {
        { "half a head", "GET /hello HTTP/1.1\r\nHo", false },
        { "half a head, reset", "GET /hello HTTP/1.1\r\nHo", true },
        { "half a Content-Length body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", false },
        { "half a Content-Length body, reset", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", true },
        { "half a chunked body", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n0123456789", false },
        { "whole request, response unread", "GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n", false },
        { "whole request, response unread, reset", "GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n", true },
        { "pipelined requests, responses unread", string.Concat(Enumerable.Repeat("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 200)), true },
    };

    [Theory]
    [MemberData(nameof(Losses))]
    public async Task Client_that_disconnects_mid_request_costs_only_its_connection(string what, string sent, bool reset)
    {
        int pid = (await RawHttpConnection.GetAsync(Port, "/worker")).WorkerPid;
        int from = server.Master.LineCount;
        var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(sent);
        var serverEnd = await TcpTable.WaitUntilServerHasReadAsync(Port, c.LocalPort, Bound);
        if (reset) c.Abort();
        else await c.DisposeAsync();
        // The server lets go of the socket once it is done with the vanished client (after writing to it, when
        // it had a response to send); whatever it logged about it by then is read before the check below.
        var letGo = Stopwatch.StartNew();
        while (ProcFs.HoldsSocket(pid, serverEnd.Inode) && letGo.Elapsed < Bound) await Task.Delay(10);
        Assert.False(ProcFs.HoldsSocket(pid, serverEnd.Inode), $"{what}: worker {pid} still holds the connection {Bound.TotalSeconds:0} s after the client left");
        await server.Master.CatchUpLogAsync();

        var after = await RawHttpConnection.GetAsync(Port, "/worker");
        Assert.Equal(200, after.Status);
        Assert.Equal(pid, after.WorkerPid);
        var bad = server.Master.Lines.Skip(from).Where(l => l.Contains("[ERROR]") || l.Contains("Unhandled")).ToList();
        Assert.True(bad.Count == 0, $"{what}: {string.Join("\n", bad)}");
        output.WriteLine($"{what}: worker {pid} still serves");
    }

    [Theory]
    [InlineData("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", "Hello, World!")]
    [InlineData("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "hello")]
    [InlineData("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("GET /sleep?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n", "slept 300 ms")]
    public async Task Half_closed_client_still_gets_its_response(string request, string body)
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(request);
        c.ShutdownSend();
        var r = await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(200, r.Status);
        Assert.StartsWith(body, r.BodyText);
        Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), "no end of stream after the response to a half-closed client");
    }

    [Fact]
    public async Task Half_closed_client_gets_every_pipelined_response()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync(string.Concat(Enumerable.Repeat("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 10)) + "GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n");
        c.ShutdownSend();
        for (int i = 0; i < 10; i++) Assert.Equal("Hello, World!", (await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10))).BodyText);
        Assert.StartsWith("slept 200 ms", (await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10))).BodyText);
        Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }
}
