using System.Reflection;
using CommandLine;
using Prefork.Master;
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

    /// <summary>Every flag that takes a value, as the parser reads them from <see cref="Options"/>.</summary>
    private static IEnumerable<(string Name, Type Type)> ValueFlags() => typeof(Options).GetProperties()
        .Select(p => (p.GetCustomAttribute<OptionAttribute>()?.LongName, p.PropertyType))
        .Where(f => f.LongName != null && f.PropertyType != typeof(bool))
        .Select(f => ("--" + f.LongName, f.PropertyType));

    /// <summary>
    /// Command lines the parser alone lets through (the server started with defaults), each with its error:
    /// every flag that takes a value, without it; every numeric flag with a word for a number.
    /// </summary>
    public static IEnumerable<object[]> Refused()
    {
        foreach (var (flag, type) in ValueFlags())
        {
            yield return [$"option '{flag}' needs a value", new[] { flag }];
            yield return [$"option '{flag}' needs a value", new[] { flag, "--log-level", "info" }];
            var number = Nullable.GetUnderlyingType(type) ?? type;
            if (number == typeof(int) || number == typeof(long))
                yield return [$"option '{flag}' needs a whole number (got 'abc')", new[] { flag, "abc" }];
        }
        yield return ["option '--workers' needs a value", new[] { "-w" }];
        yield return ["option '--workers' needs a value", new[] { "--workers=" }];
        yield return ["option '--timeout' needs a whole number (got 'x')", new[] { "-tx" }];
        yield return ["option '--workers' has a value out of range (got '99999999999')", new[] { "--workers", "99999999999" }];
        yield return ["unexpected argument 'foo'", new[] { "foo" }];
        yield return ["unexpected argument 'foo'", new[] { "--workers", "2", "foo" }];
        yield return ["unexpected argument '127.0.0.1:0'", new[] { "--bind", "127.0.0.1:0", "127.0.0.1:0" }];
        yield return ["unexpected argument 'true'", new[] { "--reuse-port", "true" }];
        yield return ["option '--reuse-port' takes no value (got 'yes')", new[] { "--reuse-port=yes" }];
        yield return ["unknown option '--nope'", new[] { "--nope", "1" }];
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_missing_value_a_stray_word_or_a_bad_number_is_refused(string expected, string[] args) =>
        Assert.Equal(expected, CommandLineCheck.FirstProblem(args));

    [Theory]
    [InlineData("-w4", "-ksync", "-t", "5", "-b", "127.0.0.1:0")]
    [InlineData("--workers=4", "--bind", "127.0.0.1:0", "--bind", "[::1]:0", "--status", "--reuse-port")]
    [InlineData("--access-log", "-", "--keep-alive", "-1", "--limit-request-body", "+10", "--root-prefix", "/static")]
    public void Good_command_lines_pass(params string[] args) => Assert.Null(CommandLineCheck.FirstProblem(args));

    /// <summary>The same, from the master itself: one line on stderr, exit 2, no worker started.</summary>
    [Theory]
    [InlineData("option '--workers' needs a value", "--workers")]
    [InlineData("option '--pid' needs a value", "--pid", "--workers", "1")]
    [InlineData("option '--workers' needs a whole number (got 'abc')", "--workers", "abc")]
    [InlineData("option '--limit-request-body' needs a whole number (got '1e6')", "--limit-request-body", "1e6")]
    [InlineData("unexpected argument 'foo'", "foo")]
    [InlineData("unexpected argument '127.0.0.1:0'", "--bind", "127.0.0.1:0", "127.0.0.1:0")]
    [InlineData("is a file, not a directory", "--root", "Prefork.Master.dll")]
    [InlineData("--shutdown-delay must be 0 or more seconds (got -5)", "--shutdown-delay", "-5")]
    [InlineData("--health-path must be a plain URL path starting with / (got 'healthz')", "--health-path", "healthz")]
    public async Task The_master_refuses_them_with_one_line(string expected, params string[] args)
    {
        var lines = await AssertOneErrorLineAsync(args, 2, output);
        Assert.Contains(expected, lines[0]);
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
        if (flag == "--help") AssertUsageNamesTheProgram(master.StdoutLines);
    }

    /// <summary>The built or published program is not run by "dotnet run": its usage line says its own name first.</summary>
    internal static void AssertUsageNamesTheProgram(IReadOnlyList<string> stdout)
    {
        var usage = Assert.Single(stdout, l => l.StartsWith("Usage:", StringComparison.Ordinal));
        Assert.StartsWith("Usage: Prefork.Master [options]", usage);
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
