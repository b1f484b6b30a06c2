using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// An address in use is refused with one line and exit 1, whoever holds it: another program, or another
/// Prefork (which, with SO_REUSEPORT set, would join it and take half its traffic). --reuse-port on both
/// servers is the one way to share; the metrics address is never shared.
/// </summary>
public class PortGuardTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Port_already_in_use_exits_1_with_one_error_line()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen(1);
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var lines = await CommandLineTests.AssertOneErrorLineAsync(["--bind", $"127.0.0.1:{port}", "--workers", "1"], 1, output);
        Assert.Contains("in use", lines[0]);
    }

    [Fact]
    public async Task A_second_server_on_the_same_port_is_refused()
    {
        await using var first = await MasterProcess.StartReadyAsync(1, output: output);
        var lines = await CommandLineTests.AssertOneErrorLineAsync(["--bind", $"127.0.0.1:{first.Port}", "--workers", "1"], 1, output);
        Assert.Equal($"error: cannot listen on 127.0.0.1:{first.Port}: address already in use", lines[0]);
        Assert.Equal("Hello, World!", (await RawHttpConnection.GetAsync(first.Port, "/hello")).BodyText);
    }

    [Fact]
    public async Task Two_servers_with_reuse_port_share_the_port()
    {
        await using var first = await MasterProcess.StartReadyAsync(1, ["--reuse-port"], output);
        await using var second = await MasterProcess.StartAsync(["--bind", $"127.0.0.1:{first.Port}", "--workers", "1", "--reuse-port"], output);
        await second.WaitForReadyAsync(1);
        Assert.Equal(first.Port, second.Port);
        Assert.Equal("Hello, World!", (await RawHttpConnection.GetAsync(first.Port, "/hello")).BodyText);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_second_server_on_the_same_metrics_port_is_refused(bool reusePort)
    {
        string[] shared = reusePort ? ["--reuse-port"] : [];
        await using var first = await MasterProcess.StartReadyAsync(1, ["--metrics-bind", "127.0.0.1:0", .. shared], output);
        int metricsPort = await first.WaitForMetricsPortAsync();
        var lines = await CommandLineTests.AssertOneErrorLineAsync(["--metrics-bind", $"127.0.0.1:{metricsPort}", "--workers", "1", .. shared], 1, output);
        Assert.Equal($"error: cannot listen on --metrics-bind 127.0.0.1:{metricsPort}: address already in use", lines[0]);
    }
}
