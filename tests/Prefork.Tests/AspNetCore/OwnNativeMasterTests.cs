using System.Text.Json;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>The `webapiaot` template's app, published NativeAOT: master and workers are one native executable.</summary>
[Collection(BuildsFirst.OwnMasterPublish)]
public sealed class OwnNativeMasterTests(OwnMasterNativeApp app, ITestOutputHelper output) : IClassFixture<OwnMasterNativeApp>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_native_app_is_the_master_and_its_workers_are_the_same_executable()
    {
        output.WriteLine($"dotnet new webapiaot + dotnet publish (NativeAOT) took {app.BuildTime.TotalSeconds:0}s");
        await using var master = await MasterProcess.StartAsync(["--workers", "2", "--bind", "127.0.0.1:0"], output,
            directory: Path.GetDirectoryName(app.Program), program: app.Program);
        await master.WaitForReadyAsync(2, Bound);

        var response = await RawHttpConnection.GetAsync(master.Port, "/todos");
        Assert.Equal(200, response.Status);
        Assert.True(JsonDocument.Parse(response.Body).RootElement.GetArrayLength() > 0, response.BodyText);
        var exe = Path.GetFullPath(app.Program);
        Assert.Equal(exe, ProcFs.Executable(master.MasterPid));
        Assert.All(master.WorkerPids, pid => Assert.Equal(exe, ProcFs.Executable(pid)));

        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Empty(await ProcFs.WaitAllGoneAsync(master.AllWorkerPids, Bound));
    }
}
