using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// What a load balancer sees: --health-path on the public port, /healthz and /livez on --metrics-bind, and
/// SIGTERM's --shutdown-delay (health 503 while requests are still served, then the graceful stop).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class HealthTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly Regex LameDuck = new(@"Handling signal: SIGTERM, lame duck for \d+s");

    /// <summary>Asks on new connections until the answer is <paramref name="status"/>, bounded; returns it.</summary>
    internal static async Task<RawResponse> WaitForStatusAsync(int port, string path, int status)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var response = await RawHttpConnection.GetAsync(port, path);
            if (response.Status == status) return response;
            if (watch.Elapsed > Bound) throw new TimeoutException($"{path} still answers {response} after {Bound.TotalSeconds:0}s");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData("async")]
    [InlineData("sync")]
    public async Task The_health_path_is_answered_before_the_app(string workerClass)
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["-k", workerClass, "--health-path", "/healthz"], output);
        var health = await RawHttpConnection.GetAsync(master.Port, "/healthz");
        Assert.Equal(200, health.Status);
        Assert.Equal("ok\n", health.BodyText);
        Assert.Equal("no-store", health.Header("Cache-Control"));
        Assert.Equal(200, (await RawHttpConnection.RequestAsync(master.Port, "HEAD", "/healthz")).Status);
        var post = await RawHttpConnection.RequestAsync(master.Port, "POST", "/healthz", "x");
        Assert.Equal(405, post.Status);
        Assert.Equal("GET, HEAD", post.Header("Allow"));
        // Only that exact path: the app keeps every other one.
        Assert.Equal("Hello, World!", (await RawHttpConnection.GetAsync(master.Port, "/hello")).BodyText);
        Assert.Equal(404, (await RawHttpConnection.GetAsync(master.Port, "/healthz/x")).Status);
    }

    [Theory]
    [InlineData("async")]
    [InlineData("sync")]
    public async Task Term_with_a_shutdown_delay_answers_503_and_serves_on_until_the_delay_is_over(string workerClass)
    {
        const int delaySeconds = 3;
        await using var master = await MasterProcess.StartReadyAsync(2,
            ["-k", workerClass, "--health-path", "/healthz", "--shutdown-delay", delaySeconds.ToString(), "--metrics-bind", "127.0.0.1:0"], output);
        int metrics = await master.WaitForMetricsPortAsync(Bound);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(metrics, "/healthz")).Status);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(metrics, "/livez")).Status);
        // A client with a keep-alive connection from before the TERM.
        await using var kept = await RawHttpConnection.ConnectAsync(master.Port);
        await kept.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, (await kept.ReadResponseAsync()).Status);

        int mark = master.LineCount;
        var signalled = Stopwatch.StartNew();
        Assert.True(master.Signal(Native.SIGTERM));
        await master.WaitForLineAsync(LameDuck, Bound, mark);
        Assert.Equal("stopping\n", (await WaitForStatusAsync(master.Port, "/healthz", 503)).BodyText);
        Assert.Equal(503, (await RawHttpConnection.GetAsync(metrics, "/healthz")).Status);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(metrics, "/livez")).Status);

        // Still serving, new connections and old, and not yet telling anyone to go.
        var fresh = await RawHttpConnection.GetAsync(master.Port, "/hello");
        Assert.Equal("Hello, World!", fresh.BodyText);
        if (workerClass == "async")
        {
            await kept.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            var again = await kept.ReadResponseAsync();
            Assert.Equal(200, again.Status);
            Assert.NotEqual("close", again.Header("Connection"));
        }
        Assert.False(master.HasExited);
        Assert.True(signalled.Elapsed < TimeSpan.FromSeconds(delaySeconds), "the checks above ran past the delay: nothing was proven");

        await master.WaitForLineAsync(new Regex("Shutdown delay over: graceful stop"), Bound, mark);
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.True(signalled.Elapsed >= TimeSpan.FromSeconds(delaySeconds - 0.5), $"stopped after {signalled.Elapsed}, before the delay was over");
        Assert.Single(master.Lines.Skip(mark), l => LameDuck.IsMatch(l));
    }

    [Theory]
    [InlineData(Native.SIGINT)]
    [InlineData(Native.SIGQUIT)]
    public async Task Int_and_quit_stop_at_once_and_end_a_lame_duck_early(int signal)
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--health-path", "/healthz", "--shutdown-delay", "600"], output);
        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGTERM));
        await master.WaitForLineAsync(LameDuck, Bound, mark);
        Assert.True(master.Signal(Native.SIGTERM));
        Assert.True(master.Signal(signal));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Single(master.Lines.Skip(mark), l => LameDuck.IsMatch(l));
    }

    [Fact]
    public async Task During_a_reload_health_stays_200()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["--health-path", "/healthz", "--shutdown-delay", "600"], output);
        var old = master.WorkerPids.ToList();
        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGHUP));
        var oldGone = Task.WhenAll(old.Select(pid => master.WaitForLineAsync(new Regex($@"\(pid {pid}\) exited with code 0"), Bound, mark)));
        int asked = 0;
        while (!oldGone.IsCompleted)
        {
            var health = await RawHttpConnection.GetAsync(master.Port, "/healthz");
            Assert.True(health.Status == 200, $"health answered {health} during the reload");
            asked++;
        }
        await oldGone;
        Assert.True(asked > 0);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/healthz")).Status);
    }

    [Fact]
    public async Task A_binary_upgrade_hands_over_at_once_whatever_the_shutdown_delay()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["--health-path", "/healthz", "--shutdown-delay", "600"], output);
        var upgrade = await BinaryUpgrade.StartAsync(master, Bound);
        // The new master's TERM to the old one is a hand-over, not a stop of the server: no lame duck.
        Assert.Equal(0, await master.WaitForExitAsync(Bound, waitForOutput: false));
        Assert.DoesNotContain(master.Lines.Skip(upgrade.Mark), l => LameDuck.IsMatch(l));
        Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/healthz")).Status);
        await upgrade.StopNewMasterAsync(Native.SIGINT, Bound);
    }
}
