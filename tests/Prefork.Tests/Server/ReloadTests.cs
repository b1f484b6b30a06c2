using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>Operating a running master without dropping a request: HUP, TTIN/TTOU, graceful stops, USR2.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class ReloadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static Regex Exited(int pid) => new($@"\(pid {pid}\) exited with code 0");

    [Fact]
    public async Task Hup_under_keep_alive_load_boots_a_new_generation_and_no_request_fails()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        var old = master.WorkerPids.ToList();
        await using var load = KeepAliveLoad.Start(master.Port, clients: 8);
        await load.WaitForMoreAsync(200, Bound);

        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGHUP));
        await master.WaitForLineAsync(new Regex("Handling signal: SIGHUP, reloading: booting generation 1"), Bound, mark);
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound, mark);
        foreach (var pid in old) await master.WaitForLineAsync(Exited(pid), Bound, mark);
        // The new generation carries the load alone for a while, too.
        await load.WaitForMoreAsync(200, Bound);
        await load.StopAsync();

        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests out of {load.Succeeded + load.Failures.Count}:\n{string.Join("\n", load.Failures)}");
        // Every old keep-alive connection was told to close, and the clients moved to new connections.
        Assert.True(load.Closes >= 1, $"no response said Connection: close (connections: {load.Connections})");
        Assert.Empty(await ProcFs.WaitAllGoneAsync(old, Bound));
        var now = master.WorkerPids;
        Assert.Equal(2, now.Count);
        Assert.Empty(now.Intersect(old));
        Assert.All(now, pid => Assert.True(ProcFs.IsAlive(pid), $"new worker {pid} is not running"));
        var served = new HashSet<int>();
        for (int i = 0; i < 10; i++) served.Add((await RawHttpConnection.GetAsync(master.Port, "/worker")).WorkerPid);
        Assert.Subset(now.ToHashSet(), served);
    }

    [Theory]
    [InlineData(Native.SIGTERM)]
    [InlineData(Native.SIGHUP)]
    [InlineData(Native.SIGTTOU)]
    public async Task Connections_opened_just_before_a_stop_are_all_answered(int signal)
    {
        int workers = signal == Native.SIGTTOU ? 3 : 2;
        // The connections wait, accepted and idle, until the workers concerned drain; on a loaded machine a new
        // generation can take longer to boot than the default keep-alive, which would close them first.
        await using var master = await MasterProcess.StartReadyAsync(workers, ["--keep-alive", "60"], output: output);
        var old = master.WorkerPids.ToList();
        var connections = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => RawHttpConnection.ConnectAsync(master.Port)));
        try
        {
            int mark = master.LineCount;
            Assert.True(master.Signal(signal));
            // The requests go out only once the workers concerned are draining.
            var stopping = new Regex(@"Worker \d+ stopping \(");
            await master.WaitForCountAsync(stopping, signal == Native.SIGTTOU ? 1 : workers, Bound, mark);

            await Task.WhenAll(connections.Select(c => c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")));
            var results = await Task.WhenAll(connections.Select(async c =>
            {
                try
                {
                    return await c.ReadResponseAsync();
                }
                catch (Exception e)
                {
                    return new RawResponse("error", 0, $"{e.GetType().Name}: {e.Message}", [], []);
                }
            }));
            var bad = results.Where(r => r.Status != 200 || r.BodyText != "Hello, World!").ToList();
            Assert.True(bad.Count == 0, $"{bad.Count} of 50 connections not answered 200:\n{string.Join("\n", bad.Take(10))}");
            if (signal != Native.SIGTTOU)
            {
                // Every connection was held by a draining worker: each is told to close.
                Assert.All(results, r => Assert.Equal("close", r.Header("Connection"), ignoreCase: true));
            }

            switch (signal)
            {
                case Native.SIGTERM:
                    Assert.Equal(0, await master.WaitForExitAsync(Bound));
                    break;
                case Native.SIGHUP:
                    foreach (var pid in old) await master.WaitForLineAsync(Exited(pid), Bound, mark);
                    Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/hello")).Status);
                    break;
                case Native.SIGTTOU:
                    var retired = await master.WaitForLineAsync(new Regex(@"Retiring worker \d+ \(pid (?<pid>\d+)\)"), Bound, mark);
                    await master.WaitForLineAsync(Exited(int.Parse(retired.Groups["pid"].Value)), Bound, mark);
                    Assert.Equal(2, master.WorkerPids.Count);
                    break;
            }
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Ttin_and_ttou_scale_the_workers_and_ttou_never_goes_below_one()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        var first = master.WorkerPids.ToList();

        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTTIN));
        await master.WaitForLineAsync(new Regex("Handling signal: SIGTTIN, workers: 3"), Bound, mark);
        var booted = await master.WaitForLineAsync(MasterProcess.BootingRegex(), Bound, mark);
        int added = int.Parse(booted.Groups["pid"].Value);
        await master.WaitForLineAsync(new Regex($@"\(pid {added}\) ready"), Bound, mark);
        AssertLive(master, 3);

        // TTOU retires the oldest worker gracefully.
        mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTTOU));
        await master.WaitForLineAsync(new Regex("Handling signal: SIGTTOU, workers: 2"), Bound, mark);
        var retiring = await master.WaitForLineAsync(new Regex(@"Retiring worker \d+ \(pid (?<pid>\d+)\) \(workers: 2\)"), Bound, mark);
        int retired = int.Parse(retiring.Groups["pid"].Value);
        Assert.Contains(retired, first);
        Assert.NotEqual(added, retired);
        await master.WaitForLineAsync(Exited(retired), Bound, mark);
        Assert.Empty(await ProcFs.WaitAllGoneAsync([retired], Bound));
        AssertLive(master, 2);

        // Down to one, then a TTOU that must change nothing.
        mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTTOU));
        var second = await master.WaitForLineAsync(new Regex(@"Retiring worker \d+ \(pid (?<pid>\d+)\) \(workers: 1\)"), Bound, mark);
        await master.WaitForLineAsync(Exited(int.Parse(second.Groups["pid"].Value)), Bound, mark);
        AssertLive(master, 1);
        var last = master.WorkerPids.Single();

        mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTTOU));
        // A TTIN afterwards is a barrier: once it is handled, anything the TTOU caused has been logged.
        await master.WaitForLineAsync(new Regex("Handling signal: SIGTTOU, workers: 1"), Bound, mark);
        Assert.True(master.Signal(Native.SIGTTIN));
        await master.WaitForLineAsync(new Regex("Handling signal: SIGTTIN, workers: 2"), Bound, mark);
        Assert.DoesNotContain(master.Lines.Skip(mark), l => l.Contains("Retiring", StringComparison.Ordinal));
        Assert.True(ProcFs.IsAlive(last), $"the last worker {last} was stopped by a TTOU at one worker");
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 1, Bound, mark);
        AssertLive(master, 2);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/hello")).Status);
    }

    private static void AssertLive(MasterProcess master, int count)
    {
        var pids = master.WorkerPids;
        Assert.True(pids.Count == count, $"expected {count} workers, the log says {string.Join(", ", pids)}");
        foreach (var pid in pids)
        {
            Assert.True(ProcFs.IsAlive(pid) && ProcFs.CommandLineContains(pid, "Prefork.Worker"), $"worker {pid} is not running");
            Assert.Equal(master.MasterPid, ProcFs.ReadStat(pid)!.Value.PPid);
        }
    }

    [Fact]
    public async Task Usr2_starts_a_new_master_that_takes_over_under_load_and_the_pid_file_follows()
    {
        var dir = Directory.CreateTempSubdirectory("prefork-usr2-");
        try
        {
            var pidPath = Path.Combine(dir.FullName, "p.pid");
            await using var master = await MasterProcess.StartReadyAsync(2, ["--pid", pidPath], output);
            int oldMaster = master.MasterPid;
            var oldWorkers = master.WorkerPids.ToList();
            Assert.Equal(oldMaster.ToString(), File.ReadAllText(pidPath).Trim());

            await using var load = KeepAliveLoad.Start(master.Port, clients: 6);
            await load.WaitForMoreAsync(100, Bound);

            var upgrade = await BinaryUpgrade.StartAsync(master, Bound);
            var listening = await master.WaitForLineAsync(
                l => MasterProcess.ListeningRegex().Match(l) is { Success: true } m && m.Groups["pid"].Value == upgrade.NewMaster.ToString(), Bound, upgrade.Mark);
            Assert.Equal(master.Port.ToString(), MasterProcess.ListeningRegex().Match(listening).Groups["port"].Value);
            await master.WaitForLineAsync(new Regex($@"\[{oldMaster}\] \[INFO\] Shutting down: master$"), Bound, upgrade.Mark);
            // The new master still holds the shared stderr, so only the old process is waited for.
            Assert.Equal(0, await master.WaitForExitAsync(Bound, waitForOutput: false));
            Assert.Empty(await ProcFs.WaitAllGoneAsync(oldWorkers, Bound));

            await load.WaitForMoreAsync(100, Bound);
            await load.StopAsync();
            Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests during the upgrade:\n{string.Join("\n", load.Failures)}");

            Assert.Equal(upgrade.NewMaster.ToString(), File.ReadAllText(pidPath).Trim());
            Assert.False(File.Exists(pidPath + ".oldbin"), "the .oldbin pid file is still there");
            Assert.True(ProcFs.IsAlive(upgrade.NewMaster));
            var newWorkers = upgrade.NewWorkers;
            Assert.Equal(2, newWorkers.Count);
            for (int i = 0; i < 6; i++)
                Assert.Contains((await RawHttpConnection.GetAsync(master.Port, "/worker")).WorkerPid, newWorkers);
            await upgrade.StopNewMasterAsync(Native.SIGTERM, Bound);
            Assert.False(File.Exists(pidPath), "the new master left its pid file behind");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
