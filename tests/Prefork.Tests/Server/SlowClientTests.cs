using System.Diagnostics;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>One async worker with short timeouts: --request-timeout 1 --keep-alive 3.</summary>
public sealed class ShortTimeoutServer : IAsyncLifetime
{
    public MasterProcess Master { get; private set; } = null!;

    public async Task InitializeAsync() => Master = await MasterProcess.StartReadyAsync(1,
        ["--worker-class", "async", "--request-timeout", "1", "--keep-alive", "3"]);

    public async Task DisposeAsync() => await Master.DisposeAsync();
}

/// <summary>
/// Clients that are slow on purpose are cut off by the timeouts (enforced by a one-second sweep, so a 1 s
/// timeout fires within about 2 s); trickling bytes buys no extra time.
/// </summary>
public class SlowClientTests(ShortTimeoutServer server, ITestOutputHelper output) : IClassFixture<ShortTimeoutServer>
{
    // A 1 s timeout fires after 1-2 s; the rest is room for a loaded two-core machine.
    private static readonly TimeSpan CutOffBound = TimeSpan.FromSeconds(5);
    private int Port => server.Master.Port;

    /// <summary>
    /// Sends <paramref name="start"/>, then one more byte of <paramref name="trickle"/> every 300 ms until a response
    /// arrives (or 10 s pass); returns the response and how long after the start it came.
    /// </summary>
    internal static async Task<(RawResponse Response, TimeSpan Elapsed)> TrickleAsync(RawHttpConnection c, string start, char trickle)
    {
        var clock = Stopwatch.StartNew();
        await c.SendAsync(start);
        var read = c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
        while (!read.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.WhenAny(read, Task.Delay(300));
            if (read.IsCompleted) break;
            try
            {
                await c.SendAsync(trickle.ToString());
            }
            catch (System.Net.Sockets.SocketException)
            {
                // The server has already closed; the response is what matters.
                break;
            }
        }
        var response = await read;
        return (response, clock.Elapsed);
    }

    [Fact]
    public async Task Head_trickled_a_byte_at_a_time_is_cut_off_with_408()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var (r, elapsed) = await TrickleAsync(c, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ", 'a');
        output.WriteLine($"{elapsed.TotalMilliseconds:0} ms: {r}");
        Assert.Equal(408, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        Assert.True(elapsed < CutOffBound, $"408 came after {elapsed.TotalSeconds:0.0} s: trickling extended the head's deadline");
        Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Body_that_stops_short_gets_408_and_close()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var clock = Stopwatch.StartNew();
        await c.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
        var r = await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
        output.WriteLine($"{clock.ElapsedMilliseconds} ms: {r}");
        Assert.Equal(408, r.Status);
        Assert.True(clock.Elapsed < CutOffBound, $"408 came after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Body_trickled_a_byte_at_a_time_is_cut_off_with_408()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var (r, elapsed) = await TrickleAsync(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 'b');
        output.WriteLine($"{elapsed.TotalMilliseconds:0} ms: {r}");
        Assert.Equal(408, r.Status);
        Assert.True(elapsed < CutOffBound, $"408 came after {elapsed.TotalSeconds:0.0} s: trickling extended the body's deadline");
    }

    [Fact]
    public async Task Idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        var r = await c.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.NotEqual("close", r.Header("Connection"));
        var clock = Stopwatch.StartNew();
        Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(9)), "idle connection still open 9 s after --keep-alive 3");
        output.WriteLine($"closed after {clock.ElapsedMilliseconds} ms idle");
        // --keep-alive 3, not the 1 s request timeout (which would close it within 2 s): the idle wait has its own clock.
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(2.3), $"closed after only {clock.Elapsed.TotalSeconds:0.0} s of a 3 s keep-alive");
    }

    [Fact]
    public async Task Client_that_never_reads_its_responses_is_cut_off_at_the_write_timeout()
    {
        int pid = (await RawHttpConnection.GetAsync(Port, "/worker")).WorkerPid;
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        var batch = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 2000)));
        var clock = Stopwatch.StartNew();
        long sent = 0;
        // Pipelined requests, never a read: the server's writes block once both socket buffers are full.
        var flood = Task.Run(async () =>
        {
            try
            {
                while (clock.Elapsed < TimeSpan.FromSeconds(20))
                {
                    await c.SendAsync(batch);
                    Interlocked.Add(ref sent, batch.Length);
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
                // The server gave up on us and closed: what this test waits for.
                return (Cut: true, Sent: Interlocked.Read(ref sent));
            }
            catch (OperationCanceledException)
            {
            }
            return (Cut: false, Sent: Interlocked.Read(ref sent));
        });

        // Meanwhile, once the flood is under way, the same worker serves others.
        var underWay = Stopwatch.StartNew();
        while (Interlocked.Read(ref sent) < 2 * batch.Length && !flood.IsCompleted && underWay.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(10);
        Assert.True(Interlocked.Read(ref sent) >= 2 * batch.Length, "the flood never got going");
        var other = await RawHttpConnection.GetAsync(Port, "/worker");
        Assert.Equal(pid, other.WorkerPid);

        var (cut, total) = await flood;
        output.WriteLine($"sent {total} bytes; cut off after {clock.ElapsedMilliseconds} ms");
        Assert.True(cut, $"a client that never reads was still connected after {clock.Elapsed.TotalSeconds:0} s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"cut off only after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(pid, (await RawHttpConnection.GetAsync(Port, "/worker")).WorkerPid);
        Assert.DoesNotContain(server.Master.Lines, l => l.Contains("[ERROR]") || l.Contains("Unhandled"));
    }

    [Fact]
    public async Task Keep_alive_connection_used_within_the_timeout_stays_open()
    {
        await using var c = await RawHttpConnection.ConnectAsync(Port);
        for (int i = 0; i < 3; i++)
        {
            await c.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.Equal("Hello, World!", (await c.ReadResponseAsync()).BodyText);
            // Idle for less than the keep-alive each time; the total is past it.
            await Task.Delay(800);
        }
    }
}

/// <summary>A sync worker (one connection at a time) must not be held by a slowloris past --request-timeout.</summary>
public class SyncSlowlorisTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Slowloris_does_not_hold_the_only_sync_worker()
    {
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--worker-class", "sync", "--request-timeout", "1"], output);
        await using var loris = await RawHttpConnection.ConnectAsync(master.Port);
        var slow = SlowClientTests.TrickleAsync(loris, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ", 'a');

        var clock = Stopwatch.StartNew();
        var normal = await RawHttpConnection.GetAsync(master.Port, "/hello");
        output.WriteLine($"normal request answered after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(200, normal.Status);

        // The head is read on the worker's event loop, as behind an accept filter: the worker's one slot goes
        // to a whole request, so the normal request did not wait for the slowloris's 408.
        var (r, elapsed) = await slow;
        Assert.Equal(408, r.Status);
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"slowloris cut off only after {elapsed.TotalSeconds:0.0} s");
        Assert.True(normal.CompletedAt < r.CompletedAt, "the normal request waited for the slowloris's 408");
        Assert.DoesNotContain(master.Lines, l => l.Contains("[ERROR]") || l.Contains("Unhandled"));
    }
}

/// <summary>--keep-alive 0 turns keep-alive off; it must not also turn off the wait for a new connection's first request.</summary>
public class KeepAliveOffTests(ITestOutputHelper output)
{
    [Fact]
    public async Task With_keep_alive_off_a_new_connection_still_has_the_request_timeout_to_send_its_request()
    {
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--worker-class", "async", "--keep-alive", "0", "--request-timeout", "10"], output);
        await using var c = await RawHttpConnection.ConnectAsync(master.Port);
        // Longer than two sweeps of the worker: a zero deadline for the first byte would have fired by now.
        await Task.Delay(2500);
        await c.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        var r = await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(200, r.Status);
        Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }
}
