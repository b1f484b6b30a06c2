using System.Text.Json;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// builder.WebHost.UsePrefork(): the app started with master flags is the master, and its workers are its own
/// program again, with the arguments that are the app's. The JIT app runs under the dotnet host.
/// </summary>
[Collection(BuildsFirst.OwnMasterBuild)]
public sealed class OwnMasterTests(OwnMasterJitApp app, ITestOutputHelper output) : IClassFixture<OwnMasterJitApp>
{
    // An ASP.NET Core app starts in a second or so, on a busy machine in several.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_app_is_the_master_of_two_workers_that_run_it_with_its_own_arguments()
    {
        output.WriteLine($"dotnet new web + dotnet build took {app.BuildTime.TotalSeconds:0}s");
        await using var master = await MasterProcess.StartAsync(
            [app.Program, "--workers", "2", "--environment", "Staging", "--bind", "127.0.0.1:0"], output,
            directory: Path.GetDirectoryName(app.Program), program: "dotnet");
        await master.WaitForReadyAsync(2, Bound);

        var answered = new HashSet<int>();
        var deadline = DateTime.UtcNow + Bound;
        while (answered.Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"answered by {string.Join(", ", answered)} only\n{master.Log}");
            answered.Add((await RawHttpConnection.GetAsync(master.Port, "/pid")).WorkerPid);
        }
        Assert.Equal(master.WorkerPids.ToHashSet(), answered);
        Assert.Equal("Staging", (await RawHttpConnection.GetAsync(master.Port, "/environment")).BodyText);
        // Each worker is `dotnet app.dll` with the app's arguments, and none of the master's.
        foreach (var pid in answered)
            Assert.Equal([app.Program, "--environment", "Staging"], ProcFs.CommandLine(pid)[1..]);

        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Empty(await ProcFs.WaitAllGoneAsync(master.AllWorkerPids, Bound));
    }

    [Fact]
    public async Task The_flags_the_app_sets_in_code_are_defaults_its_command_line_overrides()
    {
        // The app's code says 3 workers and a bind that cannot work here; the command line gives another bind only.
        await using var master = await MasterProcess.StartAsync([app.Program, "--bind", "127.0.0.1:0"], output,
            directory: Path.GetDirectoryName(app.Program), program: "dotnet");
        await master.WaitForReadyAsync(OwnMasterJitApp.DefaultWorkers, Bound);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/environment")).Status);
        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Equal(OwnMasterJitApp.DefaultWorkers, master.AllWorkerPids.Count);
    }

    [Fact]
    public async Task A_bad_master_flag_is_refused_with_exit_2_and_no_worker()
    {
        await using var master = await MasterProcess.StartAsync([app.Program, "--workers", "none"], output, program: "dotnet");
        Assert.Equal(2, await master.WaitForExitAsync(Bound));
        Assert.Contains(master.Lines, l => l.StartsWith("error: option '--workers' needs a whole number", StringComparison.Ordinal));
        Assert.Empty(master.AllWorkerPids);
    }

    [Fact]
    public async Task Run_by_another_program_as_a_test_host_does_it_changes_nothing()
    {
        // WebApplicationFactory runs the app's Main in the test process and names the app with --applicationName:
        // that process is not the app's own program, and must stay itself (here: serve on Kestrel) rather than
        // become a master and exit.
        await using var process = await MasterProcess.StartAsync(
            [app.Program, "--applicationName", "SomeTestHost", "--urls", "http://127.0.0.1:0"], output,
            directory: Path.GetDirectoryName(app.Program), program: "dotnet",
            // Kestrel's "Now listening" goes where the harness reads the log.
            environment: new Dictionary<string, string> { ["Logging__Console__LogToStandardErrorThreshold"] = "Trace" });
        var listening = await process.WaitForLineAsync(new Regex(@"Now listening on: http://127\.0\.0\.1:(?<port>\d+)"), Bound);
        var response = await RawHttpConnection.GetAsync(int.Parse(listening.Groups["port"].Value), "/environment");
        Assert.Equal(200, response.Status);
        Assert.Equal("Kestrel", response.Header("Server"));
        Assert.Empty(process.AllWorkerPids);
    }
}
