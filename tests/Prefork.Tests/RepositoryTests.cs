using System.Diagnostics;

namespace Prefork.Tests;

/// <summary>The README's commands leave the clone clean: what they create, git ignores.</summary>
public class RepositoryTests
{
    [Theory]
    [InlineData("wwwroot/index.html")]   // README, Static files: mkdir -p wwwroot && echo ... > wwwroot/index.html
    public void Files_the_readme_makes_are_ignored(string path)
    {
        var info = new ProcessStartInfo("git", ["check-ignore", "--quiet", path]) { WorkingDirectory = DotnetCli.RepoRoot };
        using var git = Process.Start(info)!;
        Assert.True(git.WaitForExit(TimeSpan.FromSeconds(20)), "git check-ignore did not finish");
        Assert.True(git.ExitCode == 0, $"git does not ignore {path} (git check-ignore exit code {git.ExitCode})");
    }
}
