using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// What is never lost: each test is one row of scripts/chaos.sh at small scale, against the real master.
/// A drain that ends before its connections, a stop that resets the queue, a slow or idle client that holds a
/// worker's room: each showed up as a client error or a wait before these guarantees.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ZeroLossTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly Regex CutOff = new(@"connection\(s\) cut off");

    private static string Get(string path) => $"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n";

    /// <summary>Reads one response; an exception becomes a status-0 response carrying its message.</summary>
    private static async Task<RawResponse> AnswerOf(RawHttpConnection c, TimeSpan? timeout = null)
    {
        try
        {
            return await c.ReadResponseAsync(timeout: timeout ?? Bound);
        }
        catch (Exception e)
        {
            return new RawResponse("error", 0, $"{e.GetType().Name}: {e.Message}", [], []);
        }
    }

    private static void AssertAllOk(IReadOnlyCollection<RawResponse> answers)
    {
        var bad = answers.Where(r => r.Status != 200).ToList();
        Assert.True(bad.Count == 0, $"{bad.Count} of {answers.Count} not answered 200:\n{string.Join("\n", bad.Take(10))}");
    }

    [Fact]
    public async Task Reload_after_reload_under_reconnecting_load_cuts_off_nothing()
    {
        // Each drain of /hello under load lasts about a millisecond, while the clients told to close reconnect
        // at once: the connections a draining worker accepts in that moment must be served too.
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        await using var load = KeepAliveLoad.Start(master.Port, clients: 16);
        await load.WaitForMoreAsync(200, Bound);
        for (int generation = 1; generation <= 4; generation++)
        {
            var old = master.WorkerPids.ToList();
            int mark = master.LineCount;
            Assert.True(master.Signal(Native.SIGHUP));
            await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound, mark);
            Assert.Empty(await ProcFs.WaitAllGoneAsync(old, Bound));
            await load.WaitForMoreAsync(100, Bound);
        }
        await load.StopAsync();
        output.WriteLine($"{load.Succeeded} requests, {load.Closes} told to close, {load.Connections} connections");
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests:\n{string.Join("\n", load.Failures)}");
        Assert.DoesNotContain(master.Lines, l => CutOff.IsMatch(l));
    }

    /// <summary>
    /// Sends <paramref name="count"/> requests of <paramref name="path"/> on connections of their own, sends
    /// <paramref name="signal"/> to the master once the first answer is in (the workers are busy and the rest
    /// queued), and checks that every one of them is answered 200.
    /// </summary>
    private static async Task SignalWithRequestsQueuedAsync(MasterProcess master, int count, string path, int signal)
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => RawHttpConnection.ConnectAsync(master.Port)));
        try
        {
            await Task.WhenAll(clients.Select(c => c.SendAsync(Get(path))));
            var answers = clients.Select(c => AnswerOf(c)).ToList();
            await Task.WhenAny(answers);
            Assert.True(master.Signal(signal));
            AssertAllOk(await Task.WhenAll(answers));
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Term_serves_every_connection_queued_behind_busy_sync_workers()
    {
        // 16 requests of 250 ms on 2 sync workers: 2 s of work, most of it still queued when TERM comes.
        await using var master = await MasterProcess.StartReadyAsync(2, ["--worker-class", "sync"], output);
        await SignalWithRequestsQueuedAsync(master, 16, "/sleep?ms=250", Native.SIGTERM);
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.DoesNotContain(master.Lines, l => CutOff.IsMatch(l));
    }

    [Fact]
    public async Task Master_killed_with_sigkill_leaves_its_queue_served_and_no_worker_behind()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", "sync"], output);
        int worker = master.WorkerPids.Single();
        // The orphaned worker has 2 s: enough for the three still queued (600 ms of work).
        await SignalWithRequestsQueuedAsync(master, 4, "/sleep?ms=200", Native.SIGKILL);
        Assert.Empty(await ProcFs.WaitAllGoneAsync([worker], Bound));
    }

    [Fact]
    public async Task Clients_that_send_half_a_head_never_hold_a_sync_worker()
    {
        await using var master = await MasterProcess.StartReadyAsync(2,
            ["--worker-class", "sync", "--request-timeout", "20"], output);
        // Ten send half a head; four more send nothing at all, and each of those keeps a worker's slot for its
        // first 100 ms only (a request is usually a packet behind its connection).
        var slow = await Task.WhenAll(Enumerable.Range(0, 14).Select(_ => RawHttpConnection.ConnectAsync(master.Port)));
        try
        {
            await Task.WhenAll(slow.Take(10).Select(c => c.SendAsync("GET /hello HTTP/1.1\r\nHost: loc")));
            var clock = Stopwatch.StartNew();
            var r = await RawHttpConnection.GetAsync(master.Port, "/hello");
            output.WriteLine($"/hello answered in {clock.ElapsedMilliseconds} ms beside 10 half heads and 4 silent connections");
            Assert.Equal(200, r.Status);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"/hello waited {clock.Elapsed.TotalSeconds:0.0} s behind slow clients");

            // A slow client that finishes its head is served like any other.
            await slow[0].SendAsync("alhost\r\n\r\n");
            Assert.Equal("Hello, World!", (await slow[0].ReadResponseAsync(timeout: Bound)).BodyText);
        }
        finally
        {
            foreach (var c in slow) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Full_async_worker_closes_its_longest_idle_connection_for_a_new_client()
    {
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--worker-class", "async", "--worker-connections", "3", "--keep-alive", "60"], output);
        var held = new List<RawHttpConnection>();
        try
        {
            for (int i = 0; i < 3; i++) held.Add(await RawHttpConnection.ConnectAsync(master.Port));
            // One after the other but at once, as a loaded worker sees them: all three go idle within a millisecond,
            // in this order.
            foreach (var c in held) await c.SendAsync(Get("/hello"));
            foreach (var c in held) Assert.Equal(200, (await c.ReadResponseAsync()).Status);

            var clock = Stopwatch.StartNew();
            var r = await RawHttpConnection.GetAsync(master.Port, "/hello");
            output.WriteLine($"a fourth client was answered in {clock.ElapsedMilliseconds} ms");
            Assert.Equal(200, r.Status);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"a new client waited {clock.Elapsed.TotalSeconds:0.0} s behind idle connections");

            // The one idle longest made the room; the others are still kept alive.
            Assert.True(await held[0].IsClosedByServerAsync(TimeSpan.FromSeconds(5)), "the longest-idle connection is still open");
            foreach (var c in held.Skip(1))
            {
                await c.SendAsync(Get("/hello"));
                Assert.Equal(200, (await c.ReadResponseAsync()).Status);
            }
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Client_that_resets_during_a_download_costs_no_error_line_only_a_count()
    {
        var root = Directory.CreateTempSubdirectory("prefork-reset-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(root.FullName, "big.bin"), new byte[16 << 20]);
            await using var master = await MasterProcess.StartReadyAsync(1,
                ["--root", root.FullName, "--metrics-bind", "127.0.0.1:0"], output);
            int metricsPort = await master.WaitForMetricsPortAsync();
            for (int i = 0; i < 3; i++)
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await client.ConnectAsync(IPAddress.Loopback, master.Port);
                await client.SendAsync(Encoding.ASCII.GetBytes(Get("/big.bin")));
                Assert.True(await client.ReceiveAsync(new byte[4096]) > 0);
                client.LingerState = new LingerOption(true, 0);
            }

            var clock = Stopwatch.StartNew();
            double failed = 0;
            while (failed < 3 && clock.Elapsed < Bound)
            {
                var scrape = await RawHttpConnection.GetAsync(metricsPort, "/metrics");
                failed = Regex.Matches(scrape.BodyText, @"^prefork_client_errors_total\{kind=""(reset|broken_pipe)""\} (\d+)$", RegexOptions.Multiline)
                    .Sum(m => double.Parse(m.Groups[2].Value));
                if (failed < 3) await Task.Delay(200);
            }
            Assert.Equal(3, failed);
            Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/hello")).Status);
            Assert.DoesNotContain(master.Lines, l => l.Contains("[ERROR]") || l.Contains("   at "));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
