using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>Workers the master replaces on its own: hung ones (--timeout) and worn ones (--max-requests).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class WorkerRecyclingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sync_worker_busy_past_the_timeout_is_killed_and_replaced()
    {
        // --timeout 3, not less: on a loaded two-core machine a worker's boot (no heartbeat yet) can take that long.
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "sync", "--timeout", "3"], output);
        master.ExpectCritical = true; // WORKER TIMEOUT is logged as critical
        int victim = master.WorkerPids.Single();
        int mark = master.LineCount;

        await using var connection = await RawHttpConnection.ConnectAsync(master.Port);
        await connection.SendAsync("GET /sleep?ms=10000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var started = DateTime.UtcNow;
        await master.WaitForLineAsync(new Regex($@"\[CRITICAL\] WORKER TIMEOUT \(pid {victim}\)"), Bound, mark);
        await master.WaitForLineAsync(new Regex($@"\(pid {victim}\) was killed by signal 9; replacing it"), Bound, mark);
        // The request died with its worker: the connection ends without a response, well before the 10 s sleep.
        Assert.True(await connection.IsClosedByServerAsync(Bound), "the connection to the killed worker stayed open");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(9), "the worker was not killed before its request ended");

        // The first worker to get ready after the kill replaces it (a slow boot may itself be retried).
        var ready = await master.WaitForLineAsync(MasterProcess.ReadyRegex(), Bound, mark);
        int replacement = int.Parse(ready.Groups["pid"].Value);
        Assert.NotEqual(victim, replacement);
        Assert.Empty(await ProcFs.WaitAllGoneAsync([victim], Bound));

        var r = await RawHttpConnection.GetAsync(master.Port, "/worker");
        Assert.Equal(200, r.Status);
        Assert.Equal(replacement, r.WorkerPid);
        Assert.Single(master.Lines, l => l.Contains($"WORKER TIMEOUT (pid {victim})", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_worker_busy_with_one_short_request_after_another_keeps_beating()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "sync", "--timeout", "3"], output);
        int worker = master.WorkerPids.Single();

        // Two clients keep the one worker inside some request nearly all the time, each request 0.2 s: 40 of them take
        // over twice the timeout, and a worker whose heartbeat waited for a moment with no request would be killed.
        await using var load = KeepAliveLoad.Start(master.Port, clients: 2, path: "/sleep?ms=200");
        await load.WaitForMoreAsync(40, Bound);
        await load.StopAsync();

        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests:\n{string.Join("\n", load.Failures)}");
        Assert.DoesNotContain(master.Lines, l => l.Contains("WORKER TIMEOUT", StringComparison.Ordinal));
        Assert.Equal([worker], master.WorkerPids);
    }

    [Fact]
    public async Task Async_worker_whose_event_loop_is_blocked_is_killed_and_replaced()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "async", "--timeout", "3"], output);
        master.ExpectCritical = true;
        int victim = master.WorkerPids.Single();
        int mark = master.LineCount;

        // Every request of an async worker runs on its event loop; a blocking one stops the loop, and with it
        // the heartbeat. Second on a kept-alive connection, it is also read by the loop itself.
        await using var connection = await RawHttpConnection.ConnectAsync(master.Port);
        await connection.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(200, (await connection.ReadResponseAsync()).Status);
        await connection.SendAsync("GET /block?ms=10000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var started = DateTime.UtcNow;
        await master.WaitForLineAsync(new Regex($@"\[CRITICAL\] WORKER TIMEOUT \(pid {victim}\)"), Bound, mark);
        Assert.True(await connection.IsClosedByServerAsync(Bound), "the connection to the killed worker stayed open");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(9), "the worker was not killed before its request ended");

        var ready = await master.WaitForLineAsync(MasterProcess.ReadyRegex(), Bound, mark);
        var r = await RawHttpConnection.GetAsync(master.Port, "/worker");
        Assert.Equal(int.Parse(ready.Groups["pid"].Value), r.WorkerPid);
    }

    [Fact]
    public async Task Async_worker_keeps_beating_while_a_request_waits_past_the_timeout()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "async", "--timeout", "3"], output);
        int worker = master.WorkerPids.Single();

        // Twice the timeout: a worker that stopped beating while it waited would be killed half-way.
        var r = await RawHttpConnection.GetAsync(master.Port, "/sleep?ms=6000");
        Assert.Equal(200, r.Status);
        Assert.StartsWith("slept 6000 ms", r.BodyText);
        Assert.Contains($"(pid {worker})", r.BodyText);
        Assert.DoesNotContain(master.Lines, l => l.Contains("WORKER TIMEOUT", StringComparison.Ordinal));
        Assert.Equal([worker], master.WorkerPids);
        Assert.True(ProcFs.IsAlive(worker));
    }

    [Fact]
    public async Task Max_requests_retires_workers_with_no_failed_request()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["--max-requests", "20", "--max-requests-jitter", "5"], output);
        await using var load = KeepAliveLoad.Start(master.Port, clients: 3);
        await RecyclingLog.WaitForReplacedAsync(master, 4, Bound);
        await load.StopAsync();

        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests:\n{string.Join("\n", load.Failures)}");
        var retired = RecyclingLog.RetiredPids(master);
        Assert.Equal(retired.Count, retired.Distinct().Count());

        // Each retired worker served its limit (20..25) and then on, until a replacement was ready: only then
        // is it stopped, drains, exits by itself and says how many requests it served.
        foreach (var pid in retired.Take(4))
        {
            var exit = await master.WaitForLineAsync(new Regex($@"\[{pid}\] \[INFO\] Worker exiting \(pid {pid}\): served (?<n>\d+) requests"), Bound);
            int served = int.Parse(exit.Groups["n"].Value);
            output.WriteLine($"retired worker {pid} served {served}");
            Assert.True(served >= 20, $"worker {pid} retired after {served} requests");
            await master.WaitForLineAsync(new Regex($@"\(pid {pid}\) exited with code 0"), Bound);
            RecyclingLog.AssertStoppedOnlyOnceReplaced(master.Lines, pid);
        }
        // Replacements keep the count at two.
        Assert.True(master.AllWorkerPids.Count >= 2 + retired.Count, $"booted {master.AllWorkerPids.Count} workers for {retired.Count} retirements");
        // The last requests of the load may still retire a worker: wait, on each new log line and within a
        // bound, until the table settles at two workers that are not retiring, every replacement ready.
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            int seen = master.LineCount;
            var retiredNow = RecyclingLog.RetiredPids(master).ToHashSet();
            int ready = master.Lines.Count(l => MasterProcess.ReadyRegex().IsMatch(l));
            int serving = master.WorkerPids.Count(pid => !retiredNow.Contains(pid));
            if (serving == 2 && ready == 2 + retiredNow.Count) break;
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero, $"{serving} serving workers, {ready} ready for {retiredNow.Count} retirements:\n{master.Log}");
            try
            {
                await master.WaitForLineAsync(_ => true, left, from: seen);
            }
            catch (TimeoutException)
            {
                // Checked once more at the top, then the bound fails the test.
            }
        }
        Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/hello")).Status);
        Assert.DoesNotContain(master.Lines, l => l.Contains("[WARNING]", StringComparison.Ordinal) || l.Contains("[ERROR]", StringComparison.Ordinal));
    }
}
