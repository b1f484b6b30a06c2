using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>--health-path and --shutdown-delay with an ASP.NET Core app as the workers: the server answers before the app.</summary>
[Collection(BuildsFirst.WebAppBuild)]
public sealed class WebAppHealthTests(WebAppBuild apps, ITestOutputHelper output)
{
    [Fact]
    public async Task The_health_path_is_answered_before_the_app_and_says_503_in_the_lame_duck()
    {
        await using var master = await AppUnderMaster.StartAsync(apps.Lifecycle, output, flags: ["--health-path", "/healthz", "--shutdown-delay", "600"]);
        Assert.Equal("ok\n", (await RawHttpConnection.GetAsync(master.Port, "/healthz")).BodyText);
        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTERM));
        await master.WaitForLineAsync(new Regex("lame duck for 600s"), AppUnderMaster.Bound, mark);
        await HealthTests.WaitForStatusAsync(master.Port, "/healthz", 503);
        // The app serves on, and its host has not begun to stop.
        Assert.StartsWith("Hello from ", (await RawHttpConnection.GetAsync(master.Port, "/hello")).BodyText);
        Assert.DoesNotContain(master.Lines.Skip(mark), l => l.Contains("ApplicationStopping done", StringComparison.Ordinal));
        Assert.True(master.Signal(Native.SIGQUIT));
        Assert.Equal(0, await master.WaitForExitAsync(AppUnderMaster.Bound));
    }
}
