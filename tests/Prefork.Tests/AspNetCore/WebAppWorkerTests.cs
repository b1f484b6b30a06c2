using System.Text.Json;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// --app with an unmodified ASP.NET Core app (the `web` template): every worker is the app's own process,
/// serving on the master's socket, with what Prefork guarantees its own workers: replaced when killed,
/// drained on a stop, given up on when they cannot start. Workers write a JSON access log to the master's
/// stdout, whose pid field says which worker answered (the template's app cannot say).
/// </summary>
[Collection(BuildsFirst.WebAppBuild)]
public sealed class WebAppWorkerTests(WebAppBuild apps, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = AppUnderMaster.Bound;

    private Task<MasterProcess> StartAsync(string app) => AppUnderMaster.StartAsync(app, output);

    [Fact]
    public async Task Two_workers_each_run_the_app()
    {
        await using var master = await StartAsync(apps.Hello);
        var answered = await AnswerUntilAsync(master, pids => pids.Count >= 2);
        Assert.Subset(master.WorkerPids.ToHashSet(), answered);
    }

    [Fact]
    public async Task A_killed_worker_is_replaced_and_serves()
    {
        await using var master = await StartAsync(apps.Hello);
        var victim = master.WorkerPids.First();
        int mark = master.LineCount;
        Assert.True(Native.SendSignal(victim, Native.SIGKILL));
        var booted = await master.WaitForLineAsync(MasterProcess.BootingRegex(), Bound, mark);
        int replacement = int.Parse(booted.Groups["pid"].Value);
        await master.WaitForLineAsync(new Regex($@"\(pid {replacement}\) ready"), Bound, mark);
        await AnswerUntilAsync(master, pids => pids.Contains(replacement));
    }

    [Fact]
    public async Task Term_drains_every_worker_and_the_master_exits_0()
    {
        await using var master = await StartAsync(apps.Hello);
        var workers = master.WorkerPids;
        await AnswerUntilAsync(master, pids => pids.Count >= 1);
        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Empty(await ProcFs.WaitAllGoneAsync(workers, Bound));
        // Each app process ran the worker's drain and exited by itself, its host stopped.
        foreach (var pid in workers)
        {
            Assert.Contains(master.Lines, l => l.Contains($"Worker exiting (pid {pid})", StringComparison.Ordinal));
            Assert.Contains(master.Lines, l => Regex.IsMatch(l, $@"Worker \d+ \(pid {pid}\) exited with code 0"));
        }
    }

    [Fact]
    public async Task An_app_that_throws_at_startup_is_given_up_on_with_its_exception_in_the_log()
    {
        await using var master = await MasterProcess.StartAsync(["--workers", "2", "--app", apps.Lifecycle], output,
            environment: new Dictionary<string, string> { [WebAppBuild.RefuseToStart] = "1" });
        master.ExpectCritical = true;
        master.ExpectUnhandledException = true;
        Assert.Equal(3, await master.WaitForExitAsync(Bound));
        Assert.Contains(master.Lines, l => l.Contains(WebAppBuild.StartupFailure, StringComparison.Ordinal));
        // Not refused up front: each start failed, the master backed off and retried, then gave up.
        Assert.Contains(master.Lines, l => l.Contains("before it was ready; retrying", StringComparison.Ordinal));
        Assert.Contains(master.Lines, l => l.Contains("failed to boot 5 times in a row", StringComparison.Ordinal));
        Assert.DoesNotContain(master.Lines, l => MasterProcess.ReadyRegex().IsMatch(l));
    }

    /// <summary>
    /// GETs / on fresh connections, each answered "Hello World!", until the pids in the access log satisfy
    /// <paramref name="enough"/> (bounded); returns them.
    /// </summary>
    private static async Task<HashSet<int>> AnswerUntilAsync(MasterProcess master, Func<HashSet<int>, bool> enough)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var response = await RawHttpConnection.GetAsync(master.Port, "/");
            Assert.Equal((200, "Hello World!"), (response.Status, response.BodyText));
            var pids = master.StdoutLines.Where(l => l.StartsWith('{'))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("pid").GetInt32()).ToHashSet();
            if (enough(pids)) return pids;
            Assert.True(DateTime.UtcNow < deadline, $"access log pids after {Bound.TotalSeconds:0}s: {string.Join(", ", pids)}\n{master.Log}");
        }
    }
}
