using System.Diagnostics;
using Prefork.App;

namespace Prefork.Tests;

/// <summary>
/// Facts about the repository itself: the README's commands leave the clone clean, and the structure stays as
/// laid out (the master stands apart from the worker, files stay readable in one sitting, the app contract
/// stays small).
/// </summary>
public class RepositoryTests
{
    /// <summary>A file longer than this is several things at once: split it along what it does.</summary>
    private const int MaxLines = 350;

    [Theory]
    [InlineData("wwwroot/index.html")]   // README, Static files: mkdir -p wwwroot && echo ... > wwwroot/index.html
    public void Files_the_readme_makes_are_ignored(string path)
    {
        var info = new ProcessStartInfo("git", ["check-ignore", "--quiet", path]) { WorkingDirectory = DotnetCli.RepoRoot };
        using var git = Process.Start(info)!;
        Assert.True(git.WaitForExit(TimeSpan.FromSeconds(20)), "git check-ignore did not finish");
        Assert.True(git.ExitCode == 0, $"git does not ignore {path} (git check-ignore exit code {git.ExitCode})");
    }

    [Fact]
    public void The_master_does_not_reference_the_worker()
    {
        // The master starts the worker as a program; it neither links it nor names its namespace.
        var hits = new[] { "src/Master", "src/Arbiter" }.SelectMany(dir => SourceFiles(dir, ".cs", ".csproj", ".props", ".targets", ".xml"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Number: i + 1, Line: line)))
            .Where(l => l.Line.Contains("Prefork.Worker", StringComparison.Ordinal))
            .Select(l => $"{Relative(l.File)}:{l.Number}: {l.Line.Trim()}")
            .ToList();
        Assert.True(hits.Count == 0, $"the master mentions Prefork.Worker:\n{string.Join("\n", hits)}");
    }

    [Fact]
    public void No_source_file_is_over_350_lines()
    {
        var tooLong = SourceFiles("src", ".cs").Concat(SourceFiles("tests", ".cs"))
            .Select(f => (File: Relative(f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > MaxLines)
            .Select(f => $"{f.File}: {f.Lines} lines")
            .ToList();
        Assert.True(tooLong.Count == 0, $"over {MaxLines} lines:\n{string.Join("\n", tooLong)}");
    }

    [Fact]
    public void The_app_contract_exposes_only_what_an_app_needs()
    {
        // Every user app compiles against these; anything else public would become a promise to keep.
        var expected = new[] { typeof(IHttpApp), typeof(HttpRequest), typeof(HttpResponse), typeof(Method) }
            .Select(t => t.FullName).Order();
        var exported = typeof(IHttpApp).Assembly.GetExportedTypes().Select(t => t.FullName).Order();
        Assert.Equal(expected, exported);
    }

    /// <summary>The files under <paramref name="folder"/> with one of these endings, leaving out build output.</summary>
    private static IEnumerable<string> SourceFiles(string folder, params string[] endings) =>
        Directory.EnumerateFiles(Path.Combine(DotnetCli.RepoRoot, folder), "*", SearchOption.AllDirectories)
            .Where(f => endings.Any(e => f.EndsWith(e, StringComparison.Ordinal)))
            .Where(f => !Relative(f).Split('/').Any(part => part is "bin" or "obj"));

    private static string Relative(string path) => Path.GetRelativePath(DotnetCli.RepoRoot, path);
}
