using System.Diagnostics;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>One master for the load.sh tests: the script loads it with --url, so it starts no server of its own.</summary>
public sealed class LoadScriptServer : IAsyncLifetime
{
    public MasterProcess Master { get; private set; } = null!;

    public async Task InitializeAsync() => Master = await MasterProcess.StartReadyAsync(2);

    public async Task DisposeAsync() => await Master.DisposeAsync();
}

/// <summary>scripts/load.sh, the concurrency demo, run with small numbers against a running master.</summary>
public sealed class LoadScriptTests(LoadScriptServer server, ITestOutputHelper output) : IClassFixture<LoadScriptServer>
{
    [Fact]
    public async Task A_run_answered_in_full_is_one_row_with_no_errors_and_the_script_exits_0()
    {
        var (code, stdout, stderr) = await RunAsync("--path", "/sleep?ms=20", "--requests", "6", "--concurrency", "3");
        Assert.True(code == 0, $"load.sh exited with {code}:\n{stderr}");
        var rows = stdout.Split('\n').SkipWhile(l => !l.StartsWith("configuration", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.Length > 0).ToList();
        var row = Assert.Single(rows);
        // After the label: time, req/s, errors, ...
        Assert.Equal(("that server", "0"), (row[..16].Trim(), row[16..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]));
        Assert.DoesNotContain("not a measurement", stdout + stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_run_short_of_its_requests_is_not_a_measurement_and_the_script_exits_1()
    {
        // Every request gets a 404: none of the 5 asked for is a 200.
        var (code, stdout, stderr) = await RunAsync("--path", "/no-such-path", "--requests", "5", "--concurrency", "2");
        Assert.Equal(1, code);
        Assert.Contains("NOT A MEASUREMENT: only 0 of 5 requests were answered with 200", stdout);
        Assert.Contains("load.sh: 'that server' is not a measurement: only 0 of 5 requests were answered with 200", stderr);
    }

    /// <summary>load.sh --url (the test's master) with the curl driver, which every machine that runs it has.</summary>
    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DotnetCli.RepoRoot,
        };
        info.ArgumentList.Add(Path.Combine(DotnetCli.RepoRoot, "scripts", "load.sh"));
        foreach (var a in (string[])["--url", $"http://127.0.0.1:{server.Master.Port}", "--driver", "curl", .. args]) info.ArgumentList.Add(a);
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
            // SIGTERM, not SIGKILL: the script's own cleanup stops the load it started.
            Native.SendSignal(run.Id, Native.SIGTERM);
            throw new TimeoutException($"load.sh {string.Join(' ', info.ArgumentList)} ran past 60 s");
        }
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);
        return (run.ExitCode, await stdout, await stderr);
    }
}
