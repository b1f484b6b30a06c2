using System.Diagnostics;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>scripts/load.sh, the concurrency demo, run with small numbers against the master of this test build.</summary>
public sealed class LoadScriptTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_demo_prints_one_row_per_configuration_each_fully_answered()
    {
        var (code, stdout, stderr) = await RunAsync("--requests", "6", "--concurrency", "3", "--workers", "2",
            "--path", "/sleep?ms=20", "--driver", "curl", "--no-warmup");
        Assert.True(code == 0, $"load.sh exited with {code}:\n{stderr}");
        var rows = stdout.Split('\n').SkipWhile(l => !l.StartsWith("configuration", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.Length > 0).ToList();
        Assert.Equal(["1 sync worker", "2 sync workers", "2 async workers"], rows.Select(r => r[..16].Trim()));
        // Columns after the label: time, req/s, errors, ...
        Assert.All(rows, r => Assert.Equal("0", r[16..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]));
        Assert.Equal(3, stdout.Split('\n').Count(l => l.Contains("done:   6 ok, 0 errors", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_run_short_of_its_requests_is_not_a_measurement_and_the_script_exits_1()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, output: output);
        // Every request gets a 404: none of the 5 asked for is a 200.
        var (code, stdout, stderr) = await RunAsync("--url", $"http://127.0.0.1:{master.Port}", "--path", "/no-such-path",
            "--requests", "5", "--concurrency", "2", "--driver", "curl");
        Assert.Equal(1, code);
        Assert.Contains("NOT A MEASUREMENT: only 0 of 5 requests were answered with 200", stdout);
        Assert.Contains("load.sh: 'that server' is not a measurement: only 0 of 5 requests were answered with 200", stderr);
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DotnetCli.RepoRoot,
        };
        info.ArgumentList.Add(Path.Combine(DotnetCli.RepoRoot, "scripts", "load.sh"));
        foreach (var a in args) info.ArgumentList.Add(a);
        // The master of this test build: the script then builds nothing.
        info.Environment["PREFORK_MASTER"] = Path.Combine(AppContext.BaseDirectory, "Prefork.Master");
        using var run = Process.Start(info)!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = run.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await run.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM, not SIGKILL: the script's own cleanup stops the servers it started.
            Native.SendSignal(run.Id, Native.SIGTERM);
            await run.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
            throw new TimeoutException($"load.sh {string.Join(' ', args)} ran past 60 s:\n{await stdout}\n{await stderr}");
        }
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);
        return (run.ExitCode, await stdout, await stderr);
    }
}
