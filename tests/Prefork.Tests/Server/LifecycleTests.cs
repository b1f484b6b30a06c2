using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>The master as a process supervisor: replacing killed workers, stopping gracefully, dying without orphans.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class LifecycleTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static void AssertNoZombies(MasterProcess master)
    {
        var zombies = ProcFs.ZombieChildren(master.MasterPid);
        Assert.True(zombies.Count == 0, $"zombie children of the master: {string.Join(", ", zombies)}");
    }

    /// <summary>
    /// Each worker collects its youngest generation every 4 MiB, not every "fraction of the CPU's cache" (over 100 MB
    /// on a large server, where every worker's RSS grew that far under load): the master gives its workers the GC
    /// setting unless the operator gave one, which then reaches them unchanged.
    /// </summary>
    [Theory]
    [InlineData(null, "400000")]
    [InlineData("800000", "800000")]
    public async Task Workers_get_a_small_gen0_budget_unless_the_operator_set_one(string? operators, string expected)
    {
        var environment = operators == null ? null : new Dictionary<string, string> { ["DOTNET_GCgen0size"] = operators };
        await using var master = await MasterProcess.StartReadyAsync(2, output: output, environment: environment);
        Assert.All(master.WorkerPids, pid => Assert.Equal(expected, ProcFs.EnvironmentVariable(pid, "DOTNET_GCgen0size")));
        // The master's own GC is left as it is: it allocates little.
        if (operators == null) Assert.Null(ProcFs.EnvironmentVariable(master.MasterPid, "DOTNET_GCgen0size"));
    }

    /// <summary>
    /// A parent that ignores signals hands that on across exec: a script's <c>prefork &amp;</c> ignores INT and QUIT,
    /// nohup HUP. The master still reloads on HUP and stops gracefully on INT and QUIT, as nginx and gunicorn do.
    /// </summary>
    [Theory]
    [InlineData(Native.SIGHUP, "SIGHUP, reloading")]
    [InlineData(Native.SIGINT, "SIGINT, graceful stop")]
    [InlineData(Native.SIGQUIT, "SIGQUIT, graceful stop")]
    public async Task Signals_the_parent_ignored_still_reach_the_master(int signal, string handling)
    {
        var program = Path.Combine(AppContext.BaseDirectory, "Prefork.Master");
        await using var master = await MasterProcess.StartAsync(
            ["-c", $"trap '' HUP INT QUIT; exec '{program}' --bind 127.0.0.1:0 --workers 1"], output, program: "/bin/sh");
        await master.WaitForReadyAsync(1, Bound);
        Assert.True(master.Signal(signal));
        await master.WaitForLineAsync(new Regex($"Handling signal: {handling}"), Bound);
        if (signal == Native.SIGHUP) await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound);
        else Assert.Equal(0, await master.WaitForExitAsync(Bound));
    }

    [Theory]
    [InlineData(Native.SIGHUP, "SIGHUP")]
    [InlineData(Native.SIGTTIN, "SIGTTIN")]
    public async Task A_signal_sent_the_moment_the_pid_file_appears_is_handled(int signal, string handling)
    {
        var pidFile = Path.Combine(Path.GetTempPath(), $"prefork-early-{Guid.NewGuid():N}.pid");
        await using var master = await MasterProcess.StartAsync(["--bind", "127.0.0.1:0", "--workers", "1", "--pid", pidFile], output);
        // As a script does that starts the server and signals it by its pid file: the signal follows the file at once.
        var appeared = Stopwatch.StartNew();
        while (!File.Exists(pidFile) && !master.HasExited && appeared.Elapsed < Bound) Thread.SpinWait(100);
        Assert.True(File.Exists(pidFile), "no pid file");
        Assert.True(master.Signal(signal));
        await master.WaitForLineAsync(new Regex($"Handling signal: {handling}"), Bound);
        Assert.False(master.HasExited, "the master died of the signal");
        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public async Task Worker_killed_with_sigkill_is_replaced_and_requests_keep_succeeding()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        var victim = master.WorkerPids.First();
        int mark = master.LineCount;
        Assert.True(Native.SendSignal(victim, Native.SIGKILL));

        await master.WaitForLineAsync(new Regex($@"\(pid {victim}\) was killed by signal 9; replacing it"), Bound, mark);
        var booted = await master.WaitForLineAsync(MasterProcess.BootingRegex(), Bound, mark);
        int replacement = int.Parse(booted.Groups["pid"].Value);
        Assert.NotEqual(victim, replacement);
        await master.WaitForLineAsync(new Regex($@"\(pid {replacement}\) ready"), Bound, mark);

        // The master reaped it: no /proc entry left, not even a zombie.
        Assert.Empty(await ProcFs.WaitAllGoneAsync([victim], Bound));
        Assert.Null(ProcFs.ReadStat(victim));
        AssertNoZombies(master);
        Assert.Equal(2, master.WorkerPids.Count);
        Assert.DoesNotContain(victim, master.WorkerPids);

        var pids = new HashSet<int>();
        for (int i = 0; i < 20; i++)
        {
            var r = await RawHttpConnection.GetAsync(master.Port, "/worker");
            Assert.Equal(200, r.Status);
            pids.Add(r.WorkerPid);
        }
        Assert.DoesNotContain(victim, pids);
        Assert.Subset(master.WorkerPids.ToHashSet(), pids);
        AssertNoZombies(master);
    }

    [Fact]
    public async Task Sigterm_lets_in_flight_requests_finish_then_master_exits_0()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        var workers = master.WorkerPids.ToList();

        // Each connection first proves a worker holds it (a keep-alive response), then starts a slow request.
        var connections = new List<RawHttpConnection>();
        for (int i = 0; i < 6; i++)
        {
            var c = await RawHttpConnection.ConnectAsync(master.Port);
            connections.Add(c);
            await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
            Assert.Equal(200, (await c.ReadResponseAsync()).Status);
        }
        foreach (var c in connections) await c.SendAsync("GET /sleep?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n");

        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTERM));
        var responses = await Task.WhenAll(connections.Select(c => c.ReadResponseAsync()));
        foreach (var r in responses)
        {
            Assert.Equal(200, r.Status);
            Assert.StartsWith("slept 1500 ms", r.BodyText);
            Assert.Equal("close", r.Header("Connection"), ignoreCase: true);
        }
        foreach (var c in connections) await c.DisposeAsync();

        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Contains(master.Lines.Skip(mark), l => l.Contains("Shutting down: master", StringComparison.Ordinal));
        Assert.Equal(workers.Count, master.Lines.Count(l => l.Contains("Worker exiting (pid", StringComparison.Ordinal)));
        Assert.Empty(await ProcFs.WaitAllGoneAsync(workers, TimeSpan.FromSeconds(5)));
        Assert.Empty(master.WorkerPids);
    }

    [Fact]
    public async Task Sigkill_of_master_takes_all_workers_down_within_5s()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        var workers = master.WorkerPids.ToList();
        Assert.Equal(2, workers.Count);
        Assert.True(master.Signal(Native.SIGKILL));
        Assert.Equal(137, await master.WaitForExitAsync(Bound));
        // Orphans go to init; a zombie left for init to reap has exited, one still running has not.
        var left = await ProcFs.WaitAllGoneAsync(workers, TimeSpan.FromSeconds(5), formerParent: master.MasterPid);
        Assert.True(left.Count == 0, $"workers still alive 5 s after the master died: {string.Join(", ", left)}");
    }

    [Fact]
    public async Task Sigkill_of_master_takes_down_a_worker_whose_loop_app_code_holds()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--timeout", "60"], output: output);
        int worker = Assert.Single(master.WorkerPids);
        await using var c = await RawHttpConnection.ConnectAsync(master.Port);
        await c.SendAsync("GET /block?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n");
        // Read by the loop, which goes straight on into the app: from here it hears nothing for 30 s.
        await TcpTable.WaitUntilServerHasReadAsync(master.Port, c.LocalPort, Bound);
        Assert.True(master.Signal(Native.SIGKILL));
        Assert.Equal(137, await master.WaitForExitAsync(Bound));
        var left = await ProcFs.WaitAllGoneAsync([worker], TimeSpan.FromSeconds(5), formerParent: master.MasterPid);
        Assert.True(left.Count == 0, $"worker {worker} still alive 5 s after its master died, its loop held by a 30 s /block");
    }

    [Fact]
    public async Task Worker_that_cannot_boot_is_retried_with_back_off_then_master_gives_up_with_exit_3()
    {
        var dir = Directory.CreateTempSubdirectory("prefork-broken-");
        try
        {
            foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            {
                var target = Path.Combine(dir.FullName, Path.GetFileName(file));
                File.Copy(file, target);
                File.SetUnixFileMode(target, File.GetUnixFileMode(file));
            }
            File.WriteAllBytes(Path.Combine(dir.FullName, "Prefork.Worker.dll"), "this is not an assembly"u8.ToArray());

            await using var master = await MasterProcess.StartAsync(["--workers", "2"], output, directory: dir.FullName);
            master.ExpectCritical = true;
            master.ExpectUnhandledException = true; // the .NET host's own words about the junk assembly
            var started = DateTime.UtcNow;
            int code = await master.WaitForExitAsync(TimeSpan.FromSeconds(20));
            var took = DateTime.UtcNow - started;
            var lines = master.Lines;

            Assert.Equal(3, code);
            Assert.True(took < TimeSpan.FromSeconds(15), $"gave up only after {took.TotalSeconds:0.0}s");
            var retries = lines.Select(l => Regex.Match(l, @"retrying in (\d+) ms")).Where(m => m.Success)
                .Select(m => int.Parse(m.Groups[1].Value)).ToList();
            Assert.NotEmpty(retries);
            // Back-off: the delays grow instead of respawning in a tight loop.
            Assert.True(retries.Max() > retries.Min(), $"no back-off in retries: {string.Join(", ", retries)}");
            int boots = lines.Count(l => MasterProcess.BootingRegex().IsMatch(l));
            Assert.InRange(boots, 2, 12);
            Assert.Contains(lines, l => l.Contains("[CRITICAL]", StringComparison.Ordinal) && l.Contains("boot", StringComparison.OrdinalIgnoreCase));
            Assert.Empty(await ProcFs.WaitAllGoneAsync(master.AllWorkerPids, TimeSpan.FromSeconds(5)));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
