using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>--pid, --access-log, --error-log and their reopening on USR1; --user and --group.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public partial class LogFileTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [GeneratedRegex("""^\S+ - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /hello HTTP/1.1" 200 13 "-" "[^"]*"$""")]
    private static partial Regex HelloLine();

    private static string[] ReadLines(string path) => File.Exists(path) ? File.ReadAllLines(path) : [];

    /// <summary>Polls a file (bounded) until its lines satisfy <paramref name="done"/>; returns them.</summary>
    private static async Task<string[]> WaitForFileAsync(string path, Func<string[], bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var lines = ReadLines(path);
            if (done(lines)) return lines;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{path}: no {what} within {timeout.TotalSeconds:0}s; it holds:\n{string.Join("\n", lines.TakeLast(40))}");
            await Task.Delay(50);
        }
    }

    private static int PidIn(string line, Regex regex) => int.Parse(regex.Match(line).Groups["pid"].Value);

    [Fact]
    public async Task Pid_file_access_log_error_log_and_usr1_reopen()
    {
        var dir = Directory.CreateTempSubdirectory("prefork-logs-");
        try
        {
            string pidPath = Path.Combine(dir.FullName, "p.pid"), access = Path.Combine(dir.FullName, "access.log"),
                errors = Path.Combine(dir.FullName, "error.log");
            await using var master = await MasterProcess.StartAsync(
                ["--workers", "2", "--pid", pidPath, "--access-log", access, "--error-log", errors,
                 // The probe connections below stay idle while a third worker boots, which on a loaded machine
                 // can take longer than the default 5 s.
                 "--keep-alive", "60"], output);

            // The log goes to the file, not to stderr: readiness is read from the file.
            var log = await WaitForFileAsync(errors, l => l.Count(MasterProcess.ReadyRegex().IsMatch) >= 2, Bound, "two ready workers");
            foreach (var line in log.Where(l => MasterProcess.BootingRegex().IsMatch(l))) master.Adopt(PidIn(line, MasterProcess.BootingRegex()));
            var listening = MasterProcess.ListeningRegex().Match(log.First(MasterProcess.ListeningRegex().IsMatch));
            int port = int.Parse(listening.Groups["port"].Value);
            Assert.Equal(master.MasterPid.ToString(), listening.Groups["pid"].Value);
            Assert.Equal(master.MasterPid.ToString(), File.ReadAllText(pidPath).Trim());
            Assert.DoesNotContain(master.Lines, l => l.Contains("] [INFO] ", StringComparison.Ordinal));

            // 400 requests from 8 clients over both workers: 400 whole lines, none cut or interleaved.
            await using (var load = KeepAliveLoad.Start(port, clients: 8, budget: 400))
            {
                await load.CompleteAsync(TimeSpan.FromSeconds(60));
                Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
            }
            var lines = await WaitForFileAsync(access, l => l.Length >= 400, Bound, "400 access lines");
            Assert.Equal(400, lines.Length);
            var malformed = lines.Where(l => !HelloLine().IsMatch(l)).ToList();
            Assert.True(malformed.Count == 0, $"{malformed.Count} lines not in combined format:\n{string.Join("\n", malformed.Take(5))}");

            // logrotate: move both files away, then USR1.
            string accessOld = access + ".1", errorsOld = errors + ".1";
            File.Move(access, accessOld);
            File.Move(errors, errorsOld);
            // One keep-alive connection held by each worker, to know when each has reopened its files.
            var perWorker = new Dictionary<int, RawHttpConnection>();
            var spare = new List<RawHttpConnection>();
            for (int i = 0; i < 40 && perWorker.Count < 2; i++)
            {
                var c = await RawHttpConnection.ConnectAsync(port);
                await c.SendAsync("GET /worker HTTP/1.1\r\nHost: localhost\r\n\r\n");
                int pid = (await c.ReadResponseAsync()).WorkerPid;
                if (!perWorker.TryAdd(pid, c)) spare.Add(c);
            }
            foreach (var c in spare) await c.DisposeAsync();
            Assert.Equal(2, perWorker.Count);
            int served = perWorker.Count + spare.Count;
            // Until USR1 the workers still write to the moved file.
            await WaitForFileAsync(accessOld, l => l.Length >= 400 + served, Bound, "the /worker lines");

            Assert.True(master.Signal(Native.SIGUSR1));
            // The master reopens at once: its next line (from a TTIN) lands in a new error.log.
            await WaitForFileAsync(errorsOld, l => l.Any(x => x.Contains("Handling signal: SIGUSR1, reopening log files", StringComparison.Ordinal)), Bound, "the USR1 line");
            Assert.True(master.Signal(Native.SIGTTIN));
            await WaitForFileAsync(errors, l => l.Any(x => x.Contains($"[{master.MasterPid}] [INFO] Handling signal: SIGTTIN", StringComparison.Ordinal)), Bound, "the master's TTIN line in the new file");
            var third = await WaitForFileAsync(errors, l => l.Any(MasterProcess.ReadyRegex().IsMatch), Bound, "the third worker ready");
            master.Adopt(PidIn(third.First(MasterProcess.BootingRegex().IsMatch), MasterProcess.BootingRegex()));

            // Each worker has reopened once a request it served shows up in the new access.log.
            int probes = 0;
            foreach (var (pid, c) in perWorker)
            {
                await WaitForProbeAsync(c, access, pid);
            }

            async Task WaitForProbeAsync(RawHttpConnection c, string path, int pid)
            {
                var deadline = DateTime.UtcNow + Bound;
                while (true)
                {
                    string tag = $"probe-{pid}-{probes++}";
                    await c.SendAsync($"GET /hello?{tag} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                    Assert.Equal(200, (await c.ReadResponseAsync()).Status);
                    if (await Task.Run(async () =>
                        {
                            // The line is written as the response goes out; give it a moment to land.
                            var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(500);
                            while (DateTime.UtcNow < until)
                            {
                                if (ReadLines(path).Any(l => l.Contains(tag, StringComparison.Ordinal))) return true;
                                await Task.Delay(20);
                            }
                            return false;
                        }))
                        return;
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"worker {pid} never wrote to the reopened {path}");
                }
            }
            foreach (var c in perWorker.Values) await c.DisposeAsync();

            // From now on nothing more goes to the renamed files.
            var oldAccess = ReadLines(accessOld);
            long oldErrorsSize = new FileInfo(errorsOld).Length;
            int newBefore = ReadLines(access).Length;
            await using (var load = KeepAliveLoad.Start(port, clients: 4, budget: 100))
            {
                await load.CompleteAsync(TimeSpan.FromSeconds(60));
                Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
            }
            var fresh = await WaitForFileAsync(access, l => l.Length >= newBefore + 100, Bound, "100 more lines");
            Assert.Equal(newBefore + 100, fresh.Length);
            Assert.All(fresh.Skip(newBefore), l => Assert.Matches(HelloLine(), l));
            Assert.Equal(oldAccess, ReadLines(accessOld));
            // All probes went to one file or the other, and every request was logged exactly once.
            Assert.Equal(400 + served + probes + 100, ReadLines(accessOld).Length + fresh.Length);
            Assert.Equal(probes, ReadLines(accessOld).Count(l => l.Contains("probe-", StringComparison.Ordinal)) + fresh.Count(l => l.Contains("probe-", StringComparison.Ordinal)));

            Assert.True(master.Signal(Native.SIGTERM));
            Assert.Equal(0, await master.WaitForExitAsync(Bound));
            Assert.False(File.Exists(pidPath), "the pid file is still there after the master exited");
            Assert.Equal(oldErrorsSize, new FileInfo(errorsOld).Length);
            var finalLog = ReadLines(errors);
            Assert.Contains(finalLog, l => l.Contains($"[{master.MasterPid}] [INFO] Shutting down: master", StringComparison.Ordinal));
            Assert.Equal(3, finalLog.Count(l => l.Contains("Worker exiting (pid", StringComparison.Ordinal)));
            Assert.DoesNotContain(master.Lines, l => l.Contains("] [INFO] ", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Runs only as root (the master must be root to switch users).</summary>
    public sealed class RootFactAttribute : FactAttribute
    {
        public RootFactAttribute()
        {
            if (Native.CurrentUid != 0) Skip = "needs root: --user/--group make the master switch the workers' user";
        }
    }

    private static (int[] Uid, int[] Gid) Ids(int pid)
    {
        var status = File.ReadAllLines($"/proc/{pid}/status");
        int[] Field(string name) => status.First(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..]
            .Split('\t', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        return (Field("Uid:"), Field("Gid:"));
    }

    [RootFact]
    public async Task User_and_group_drop_the_workers_privileges_while_the_master_stays_root()
    {
        var nobody = Native.LookUpUser("nobody") ?? throw new InvalidOperationException("no user 'nobody' on this machine");
        var args = new List<string> { "--user", "nobody" };
        int gid = nobody.Gid;
        if (Native.LookUpGroup("nogroup") is { } nogroup)
        {
            args.AddRange(["--group", "nogroup"]);
            gid = nogroup;
        }
        await using var master = await MasterProcess.StartReadyAsync(2, args, output);

        Assert.Equal([0, 0, 0, 0], Ids(master.MasterPid).Uid);
        foreach (var pid in master.WorkerPids)
        {
            var (uid, g) = Ids(pid);
            Assert.Equal([nobody.Uid, nobody.Uid, nobody.Uid, nobody.Uid], uid);
            Assert.Equal([gid, gid, gid, gid], g);
            Assert.DoesNotContain("Groups:\t0", File.ReadAllText($"/proc/{pid}/status"));
        }
        for (int i = 0; i < 10; i++) Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/hello")).Status);

        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
    }

    [Theory]
    [InlineData("--pid", "--pid: cannot write")]
    [InlineData("--access-log", "cannot open")]
    [InlineData("--error-log", "cannot open")]
    public async Task A_file_that_cannot_be_written_is_one_line_naming_it(string flag, string says)
    {
        var path = $"/nonexistent-prefork-dir/{flag.TrimStart('-')}";
        await using var master = await MasterProcess.StartAsync(["--workers", "1", flag, path], output);
        Assert.Equal(1, await master.WaitForExitAsync(Bound));
        Assert.True(await master.WaitForOutputEndAsync(Bound));
        var line = Assert.Single(master.Lines);
        Assert.StartsWith("error: " + says, line);
        Assert.Contains(path + ": No such file or directory", line);
        Assert.Empty(master.AllWorkerPids);
    }

    [Fact]
    public async Task Unknown_user_is_a_command_line_error()
    {
        await using var master = await MasterProcess.StartAsync(["--workers", "1", "--user", "no_such_user_xyz"], output);
        Assert.Equal(2, await master.WaitForExitAsync(Bound));
        Assert.True(await master.WaitForOutputEndAsync(Bound));
        var line = Assert.Single(master.Lines);
        Assert.StartsWith("error:", line);
        Assert.Contains("no_such_user_xyz", line);
        Assert.Empty(master.AllWorkerPids);
    }
}
