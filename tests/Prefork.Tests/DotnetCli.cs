using System.Diagnostics;

namespace Prefork.Tests;

/// <summary>Runs the dotnet CLI in the repository, as a user would (a build or a publish), bounded in time.</summary>
public static class DotnetCli
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// Throws with the tool's own output when it fails or runs past <paramref name="bound"/>. Holds no thread
    /// while the tool works, so the tests that need no build run alongside it.
    /// </summary>
    public static async Task RunAsync(TimeSpan bound, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot };
        foreach (var argument in args) info.ArgumentList.Add(argument);
        var what = $"dotnet {string.Join(' ', args)}";
        using var run = Process.Start(info)!;
        var output = run.StandardOutput.ReadToEndAsync();
        var errors = run.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            await run.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            run.Kill(entireProcessTree: true);
            throw new TimeoutException($"{what} took more than {bound.TotalMinutes} minutes");
        }
        if (run.ExitCode != 0) throw new InvalidOperationException($"{what} failed:\n{await output}\n{await errors}");
    }

    private static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Prefork.sln")))
            dir = Path.GetDirectoryName(dir) ?? throw new DirectoryNotFoundException("Prefork.sln not found above the test output");
        return dir;
    }
}
