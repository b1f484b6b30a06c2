using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>Bad command lines end the master at once with one "error:" line and no stack trace.</summary>
public class CommandLineTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(2, "--workers", "0")]
    [InlineData(2, "--workers", "-1")]
    [InlineData(2, "--nope")]
    [InlineData(2, "--bind", "999.1.1.1:80")]
    [InlineData(2, "--bind", "127.0.0.1:99999")]
    [InlineData(2, "--worker-class", "banana")]
    public async Task Bad_flag_exits_with_one_error_line(int expectedExitCode, params string[] args)
    {
        await AssertOneErrorLineAsync(args, expectedExitCode, output);
    }

    [Theory]
    [InlineData("--help", "--workers", false)]
    [InlineData("--version", "0.", false)]
    [InlineData("--help", "--workers", true)]
    [InlineData("--version", "0.", true)]
    public async Task Help_and_version_exit_0(string flag, string expectedInStdout, bool afterOtherFlags)
    {
        // Alone, and after other flags (as in "prefork --bind 127.0.0.1:0 --workers 2 --help").
        string[] args = afterOtherFlags ? ["--workers", "2", flag] : [flag];
        await using var master = await MasterProcess.StartAsync(args, output, defaultBind: afterOtherFlags);
        Assert.Equal(0, await master.WaitForExitAsync(ExitTimeout));
        Assert.True(await master.WaitForOutputEndAsync(ExitTimeout));
        Assert.Contains(master.StdoutLines, l => l.Contains(expectedInStdout, StringComparison.Ordinal));
        Assert.DoesNotContain(master.Lines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Empty(master.AllWorkerPids);
    }

    internal static async Task<IReadOnlyList<string>> AssertOneErrorLineAsync(string[] args, int expectedExitCode, ITestOutputHelper output)
    {
        await using var master = await MasterProcess.StartAsync(args, output);
        int code = await master.WaitForExitAsync(ExitTimeout);
        Assert.True(await master.WaitForOutputEndAsync(ExitTimeout), "stderr did not reach end of file");
        var lines = master.Lines.Where(l => l.Length > 0).ToList();
        Assert.True(lines.Count == 1, $"expected exactly one stderr line, got:\n{string.Join("\n", lines)}");
        Assert.StartsWith("error:", lines[0]);
        Assert.DoesNotContain("   at ", lines[0]);
        Assert.DoesNotContain("Exception", lines[0]);
        // An address that does not resolve is a bad --bind value (2) or a failure to bind (1): either is fine.
        var allowed = args.Contains("--bind") && expectedExitCode == 2 ? new[] { 1, 2 } : [expectedExitCode];
        Assert.Contains(code, allowed);
        Assert.Empty(master.AllWorkerPids);
        return lines;
    }
}
