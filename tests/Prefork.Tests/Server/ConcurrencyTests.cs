using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>Load spread over workers, and what the worker class means for a slow request's neighbours.</summary>
public class ConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_hundred_parallel_requests_all_succeed_on_more_than_one_worker()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.Zero };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };

        using var stop = new CancellationTokenSource();
        var zombieWatch = Task.Run(async () =>
        {
            int scans = 0;
            while (!stop.IsCancellationRequested)
            {
                var zombies = ProcFs.ZombieChildren(master.MasterPid);
                Assert.True(zombies.Count == 0, $"zombie children during load: {string.Join(", ", zombies)}");
                scans++;
                try { await Task.Delay(100, stop.Token); } catch (OperationCanceledException) { }
            }
            return scans;
        });

        var requests = Enumerable.Range(0, 200).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{master.Port}/worker");
            request.Headers.ConnectionClose = true;
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, Pid: response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("pid").GetInt32() : 0);
        }).ToList();
        var results = await Task.WhenAll(requests);
        stop.Cancel();
        Assert.True(await zombieWatch > 0);

        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var pids = results.Select(r => r.Pid).ToHashSet();
        output.WriteLine($"served by: {string.Join(", ", results.GroupBy(r => r.Pid).Select(g => $"{g.Key}×{g.Count()}"))}");
        Assert.True(pids.Count > 1, $"all 200 requests went to one worker ({pids.First()})");
        Assert.Subset(master.WorkerPids.ToHashSet(), pids);
    }

    [Theory]
    [InlineData("sync")]
    [InlineData("async")]
    public async Task Slow_request_blocks_a_sync_worker_but_not_an_async_one(string workerClass)
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", workerClass], output);
        // A is queued first, so a sync worker (one connection at a time, taken from the backlog in order) serves it first.
        await using var a = await RawHttpConnection.ConnectAsync(master.Port);
        await a.SendAsync("GET /sleep?ms=800 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await using var b = await RawHttpConnection.ConnectAsync(master.Port);
        await b.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");

        var readA = a.ReadResponseAsync();
        var readB = b.ReadResponseAsync();
        var ra = await readA;
        var rb = await readB;
        Assert.Equal(200, ra.Status);
        Assert.Equal(200, rb.Status);
        Assert.Equal("Hello, World!", rb.BodyText);
        output.WriteLine($"A done at {ra.CompletedAt}, B done at {rb.CompletedAt} ({Stopwatch.GetElapsedTime(ra.CompletedAt, rb.CompletedAt).TotalMilliseconds:0} ms apart)");
        if (workerClass == "sync")
        {
            Assert.True(ra.CompletedAt < rb.CompletedAt, "a sync worker answered B while it was still busy with A");
            Assert.Equal("close", ra.Header("Connection"), ignoreCase: true);
        }
        else
        {
            Assert.True(rb.CompletedAt < ra.CompletedAt, "an async worker held B back behind the slow A");
        }
    }

    [Fact]
    public async Task A_worker_whose_loop_is_held_up_takes_no_new_connection_and_its_sibling_answers_them_at_once()
    {
        // gunicorn's users' complaint: a worker busy with one request still takes connections, which then wait behind it.
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        await using var blocker = await RawHttpConnection.ConnectAsync(master.Port);
        await blocker.SendAsync("GET /worker HTTP/1.1\r\nHost: localhost\r\n\r\n");
        int busy = (await blocker.ReadResponseAsync()).WorkerPid;
        await blocker.SendAsync("GET /block?ms=8000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var blocked = Stopwatch.StartNew();
        Assert.True(await LoopHeldUpAsync(busy, TimeSpan.FromSeconds(5)), "the /block request never held the worker's loop");

        var servedBy = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            var response = await RawHttpConnection.GetAsync(master.Port, "/worker");
            Assert.Equal(200, response.Status);
            servedBy.Add(response.WorkerPid);
        }
        output.WriteLine($"busy worker {busy}; 10 new connections served by {string.Join(", ", servedBy)} within {blocked.ElapsedMilliseconds} ms of the block");
        // One that went to the busy worker would have waited for the block to end, and then been served by it.
        Assert.DoesNotContain(busy, servedBy);
        Assert.True(blocked.Elapsed < TimeSpan.FromSeconds(8), "the new connections were not answered while the block lasted");
        Assert.StartsWith("slept 8000 ms", (await blocker.ReadResponseAsync(timeout: TimeSpan.FromSeconds(30))).BodyText);
    }

    /// <summary>True once the worker's event loop thread sleeps somewhere other than in epoll_wait, twice in a row.</summary>
    private static async Task<bool> LoopHeldUpAsync(int workerPid, TimeSpan timeout)
    {
        var loop = Directory.EnumerateDirectories($"/proc/{workerPid}/task").Single(t => File.ReadAllText(Path.Combine(t, "comm")).TrimEnd('\n') == "event loop");
        bool HeldUp() => File.ReadAllText(Path.Combine(loop, "wchan")) is var at && at is not ("do_epoll_wait" or "0" or "");
        int seen = 0;
        for (var sw = Stopwatch.StartNew(); sw.Elapsed < timeout; await Task.Delay(20))
        {
            seen = HeldUp() ? seen + 1 : 0;
            if (seen == 2) return true;
        }
        return false;
    }

    [Fact]
    public async Task Connections_waiting_in_the_backlog_survive_the_death_of_the_worker()
    {
        // One sync worker: it holds A (slow) and cannot take anything else, so B and C wait in the kernel's backlog.
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "sync"], output);
        int victim = master.WorkerPids.Single();
        await using var a = await RawHttpConnection.ConnectAsync(master.Port);
        await a.SendAsync("GET /sleep?ms=5000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await using var b = await RawHttpConnection.ConnectAsync(master.Port);
        await b.SendAsync("GET /worker HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await using var c = await RawHttpConnection.ConnectAsync(master.Port);
        await c.SendAsync("GET /worker HTTP/1.1\r\nHost: localhost\r\n\r\n");

        int mark = master.LineCount;
        Assert.True(Native.SendSignal(victim, Native.SIGKILL));
        var booted = await master.WaitForLineAsync(MasterProcess.BootingRegex(), TimeSpan.FromSeconds(20), mark);
        int replacement = int.Parse(booted.Groups["pid"].Value);

        var rb = await b.ReadResponseAsync();
        var rc = await c.ReadResponseAsync();
        Assert.Equal(200, rb.Status);
        Assert.Equal(200, rc.Status);
        Assert.Equal(replacement, rb.WorkerPid);
        Assert.Equal(replacement, rc.WorkerPid);
        Assert.Empty(ProcFs.ZombieChildren(master.MasterPid));
    }

    [Fact]
    public async Task Keep_alive_request_sent_while_app_code_blocks_the_loop_is_answered_not_timed_out()
    {
        // Keep-alive 1 s and a 7 s block: the idle connection's deadline passes long before the loop can read
        // the request that reached it in time. The worker, not the client, was late.
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "async", "--keep-alive", "1"], output);
        const string Hello = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
        await using var blocker = await RawHttpConnection.ConnectAsync(master.Port);
        await using var idle = await RawHttpConnection.ConnectAsync(master.Port);
        foreach (var c in new[] { blocker, idle })
        {
            await c.SendAsync(Hello);
            Assert.Equal(200, (await c.ReadResponseAsync()).Status);
        }

        // Both connections already wait on the loop, and epoll reports them in the order their bytes came:
        // the blocking request runs before the loop can see the idle connection's next one.
        await blocker.SendAsync("GET /block?ms=7000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await idle.SendAsync(Hello);

        Assert.Equal("Hello, World!", (await idle.ReadResponseAsync(timeout: TimeSpan.FromSeconds(30))).BodyText);
        Assert.StartsWith("slept 7000 ms", (await blocker.ReadResponseAsync(timeout: TimeSpan.FromSeconds(30))).BodyText);
        // Nor half-closed for it: the connection is still kept alive.
        await idle.SendAsync(Hello);
        Assert.Equal("Hello, World!", (await idle.ReadResponseAsync()).BodyText);
    }
}
