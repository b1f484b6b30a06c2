using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The server's zero-loss guarantees with ASP.NET Core apps as workers, whose boot takes a second or more
/// (<see cref="WebAppBuild.Lifecycle"/>): --max-requests and HUP under keep-alive load, TERM with a request in
/// flight, USR2. On every graceful stop the host's ApplicationStopping callbacks run first, while the worker
/// still serves, as under Kestrel; then the worker drains; then ApplicationStopped; then the process exits.
/// </summary>
[Collection(BuildsFirst.WebAppBuild)]
public sealed class WebAppLifecycleTests(WebAppBuild apps, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = AppUnderMaster.Bound;

    private static Regex Exited(int pid) => new($@"\(pid {pid}\) exited with code 0");

    private Task<MasterProcess> StartAsync(params string[] flags) => AppUnderMaster.StartAsync(apps.Lifecycle, output, flags: flags);

    [Fact]
    public async Task Max_requests_under_keep_alive_load_replaces_workers_before_stopping_them_and_loses_nothing()
    {
        const int limit = 100, clients = 4;
        await using var master = await StartAsync("--max-requests", limit.ToString());
        await using var load = KeepAliveLoad.Start(master.Port, clients);
        await RecyclingLog.WaitForReplacedAsync(master, 2, Bound);
        await load.StopAsync();

        output.WriteLine($"{load.Succeeded} requests, {load.Closes} told to close, {load.Connections} connections");
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests:\n{string.Join("\n", load.Failures)}");
        foreach (var pid in RecyclingLog.RetiredPids(master).Take(2))
        {
            var exit = await master.WaitForLineAsync(new Regex($@"\[{pid}\] \[INFO\] Worker exiting \(pid {pid}\): served (?<n>\d+) requests"), Bound);
            await master.WaitForLineAsync(Exited(pid), Bound);
            RecyclingLog.AssertStoppedOnlyOnceReplaced(master.Lines, pid);
            // While its replacement booted, it went on serving its keep-alive clients: far more than its limit
            // and the requests already under way when it reached it.
            int served = int.Parse(exit.Groups["n"].Value);
            output.WriteLine($"retired worker {pid} served {served}");
            Assert.True(served > limit + clients, $"worker {pid} served {served} requests: it stopped serving at its --max-requests {limit}");
            Assert.Contains($"ApplicationStopping done (pid {pid})", master.Lines);
        }
    }

    [Fact]
    public async Task Hup_under_keep_alive_load_twice_loses_nothing_and_each_old_worker_runs_its_stopping_callback()
    {
        await using var master = await StartAsync();
        await using var load = KeepAliveLoad.Start(master.Port, clients: 4);
        await load.WaitForMoreAsync(100, Bound);
        var replaced = new List<int>();
        for (int generation = 1; generation <= 2; generation++)
        {
            var old = master.WorkerPids.ToList();
            int mark = master.LineCount;
            Assert.True(master.Signal(Native.SIGHUP));
            await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound, mark);
            foreach (var pid in old) await master.WaitForLineAsync(Exited(pid), Bound, mark);
            replaced.AddRange(old);
            await load.WaitForMoreAsync(100, Bound);
        }
        await load.StopAsync();

        output.WriteLine($"{load.Succeeded} requests, {load.Closes} told to close, {load.Connections} connections");
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests:\n{string.Join("\n", load.Failures)}");
        Assert.True(load.Closes >= 1, "no response said Connection: close");
        Assert.DoesNotContain(master.Lines, l => l.Contains("cut off", StringComparison.Ordinal));
        foreach (var pid in replaced) Assert.Contains($"ApplicationStopping done (pid {pid})", master.Lines);
    }

    [Fact]
    public async Task Term_runs_ApplicationStopping_then_drains_the_request_in_flight_then_ApplicationStopped_and_the_master_exits_0()
    {
        await using var master = await StartAsync();
        var workers = master.WorkerPids.ToList();
        await using var connection = await RawHttpConnection.ConnectAsync(master.Port);
        await connection.SendAsync("GET /sleep?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await master.WaitForLineAsync(new Regex(@"^sleep started \(pid \d+\)$"), Bound);

        Assert.True(master.Signal(Native.SIGTERM));
        var answer = await connection.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, answer.Status);
        Assert.StartsWith("slept 1500 ms", answer.BodyText);
        Assert.Equal(0, await master.WaitForExitAsync(Bound));

        var lines = master.Lines;
        foreach (var pid in workers)
        {
            // Kestrel's order: the app's stopping work while the server still serves, then the drain, then Stopped.
            int[] order =
            [
                IndexOf(lines, $"ApplicationStopping done (pid {pid})"),
                IndexOf(lines, $"[{pid}] [INFO] Worker ", "stopping (the server is stopping), draining"),
                IndexOf(lines, $"Worker exiting (pid {pid})"),
                IndexOf(lines, $"ApplicationStopped (pid {pid})"),
                lines.ToList().FindIndex(l => Exited(pid).IsMatch(l)),
            ];
            Assert.True(order.All(i => i >= 0) && order.Zip(order.Skip(1)).All(p => p.First < p.Second),
                $"worker {pid}: stopping done, draining, exiting, stopped, exited at lines {string.Join(", ", order)}:\n{master.Log}");
        }
    }

    [Fact]
    public async Task Usr2_hands_over_to_a_new_master_whose_app_workers_serve_and_no_request_fails()
    {
        await using var master = await StartAsync();
        var oldWorkers = master.WorkerPids.ToList();
        await using var load = KeepAliveLoad.Start(master.Port, clients: 4);
        await load.WaitForMoreAsync(100, Bound);

        var upgrade = await BinaryUpgrade.StartAsync(master, Bound);
        Assert.Equal(0, await master.WaitForExitAsync(Bound, waitForOutput: false));
        Assert.Empty(await ProcFs.WaitAllGoneAsync(oldWorkers, Bound));
        await load.WaitForMoreAsync(100, Bound);
        await load.StopAsync();

        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests during the upgrade:\n{string.Join("\n", load.Failures)}");
        foreach (var pid in oldWorkers) Assert.Contains($"ApplicationStopping done (pid {pid})", master.Lines);
        var newWorkers = upgrade.NewWorkers;
        for (int i = 0; i < 4; i++) Assert.Contains((await RawHttpConnection.GetAsync(master.Port, "/worker")).WorkerPid, newWorkers);
        await upgrade.StopNewMasterAsync(Native.SIGTERM, Bound);
    }

    private static int IndexOf(IReadOnlyList<string> lines, string text, string? then = null) =>
        lines.ToList().FindIndex(l => l.Contains(text, StringComparison.Ordinal) && (then == null || l.Contains(then, StringComparison.Ordinal)));
}
