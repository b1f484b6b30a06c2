using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// scripts/fleet.sh at small scale: a real HAProxy in front of two masters, keep-alive load through it, and a
/// rolling deploy (each master in turn gets TERM, goes lame duck, HAProxy's health checks take it out, it drains,
/// and a new master takes its port) with no failed request. Runs where haproxy is installed (CI installs it).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class FleetTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>The haproxy program, or null: on PATH, or in /usr/sbin, where Debian puts it and a user's PATH may not look.</summary>
    internal static readonly string? Haproxy = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin")
        .Select(dir => Path.Combine(dir, "haproxy")).FirstOrDefault(File.Exists);

    /// <summary>Skipped, saying why, where haproxy is not installed.</summary>
    public sealed class HaproxyFactAttribute : FactAttribute
    {
        public HaproxyFactAttribute()
        {
            if (Haproxy == null) Skip = "needs haproxy (apt-get install haproxy; .ci/run installs it)";
        }
    }

    [HaproxyFact]
    public async Task A_rolling_deploy_behind_haproxy_fails_no_request()
    {
        // HAProxy speaks PROXY protocol v2 to the masters, health checks included: a connection without the header
        // would be closed unanswered, so every request that succeeds went through it.
        string[] flags = ["--workers", "2", "--health-path", "/healthz", "--shutdown-delay", "2", "--graceful-timeout", "10",
            "--proxy-protocol", "--proxy-allow-from", "127.0.0.1"];
        var masters = new List<MasterProcess>();
        Process? haproxy = null;
        var config = Path.GetTempFileName();
        try
        {
            for (int i = 0; i < 2; i++) masters.Add(await MasterProcess.StartReadyAsync(2, flags, output));
            int[] ports = masters.Select(m => m.Port).ToArray();
            int front = FreePort(), stats = FreePort();
            File.WriteAllText(config, HaproxyConfig(front, stats, ports));
            haproxy = Process.Start(new ProcessStartInfo(Haproxy!, ["-f", config, "-db"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            _ = haproxy.StandardError.ReadToEndAsync();
            _ = haproxy.StandardOutput.ReadToEndAsync();
            foreach (var server in new[] { "m1", "m2" }) await WaitForStatusAsync(stats, server, "UP");

            await using var load = KeepAliveLoad.Start(front, clients: 4);
            await load.WaitForMoreAsync(200, Bound);
            for (int i = 0; i < masters.Count; i++)
            {
                var old = masters[i];
                Assert.True(old.Signal(Native.SIGTERM));
                // HAProxy takes it out of rotation while it still serves: the lame duck, not a closed port.
                await WaitForStatusAsync(stats, $"m{i + 1}", "DOWN");
                Assert.False(old.HasExited, "the master was gone before HAProxy saw its health go 503");
                Assert.Equal(0, await old.WaitForExitAsync(Bound));
                await old.DisposeAsync();
                masters[i] = await MasterProcess.StartReadyAsync(2, ["--bind", $"127.0.0.1:{ports[i]}", .. flags], output);
                await WaitForStatusAsync(stats, $"m{i + 1}", "UP");
                await load.WaitForMoreAsync(100, Bound);
            }
            await load.StopAsync();

            Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests out of {load.Succeeded + load.Failures.Count}:\n{string.Join("\n", load.Failures.Take(20))}");
            var answered = await StatsAsync(stats);
            output.WriteLine($"responses per master (HAProxy's count): {string.Join(", ", answered.Select(s => $"{s.Key} {s.Value.Answered}"))}");
            Assert.All(answered.Values, s => Assert.True(s.Answered > 0, "a master got no request"));
        }
        finally
        {
            if (haproxy is { HasExited: false }) Native.SendSignal(haproxy.Id, Native.SIGKILL);
            haproxy?.Dispose();
            foreach (var master in masters) await master.DisposeAsync();
            File.Delete(config);
        }
    }

    /// <summary>The same settings as scripts/fleet.sh: checks every 300 ms, a request on a failed or closed server connection retried, PROXY protocol v2.</summary>
    private static string HaproxyConfig(int front, int stats, int[] ports) => $"""
        global
            maxconn 1024
        defaults
            mode http
            timeout connect 2s
            timeout client 30s
            timeout server 30s
            retries 3
            option redispatch
            retry-on conn-failure empty-response response-timeout
        frontend fleet
            bind 127.0.0.1:{front}
            default_backend prefork
        backend prefork
            balance roundrobin
            option httpchk GET /healthz
            http-check expect status 200
            default-server check inter 300ms fall 2 rise 2 send-proxy-v2
        {string.Join("\n", ports.Select((p, i) => $"    server m{i + 1} 127.0.0.1:{p}"))}
        listen stats
            bind 127.0.0.1:{stats}
            stats enable
            stats uri /stats

        """;

    internal static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>HAProxy's view of each server of the backend: its status (UP, DOWN, ...) and the 2xx responses it gave.</summary>
    private static async Task<Dictionary<string, (string Status, long Answered)>> StatsAsync(int port)
    {
        var csv = (await RawHttpConnection.GetAsync(port, "/stats;csv")).BodyText.Split('\n');
        var columns = csv[0].TrimStart('#', ' ').Split(',');
        int status = Array.IndexOf(columns, "status"), answered = Array.IndexOf(columns, "hrsp_2xx");
        return csv.Skip(1).Select(l => l.Split(','))
            .Where(f => f.Length > answered && f[0] == "prefork" && f[1].StartsWith('m'))
            .ToDictionary(f => f[1], f => (f[status], long.Parse(f[answered])));
    }

    /// <summary>Waits, bounded, until HAProxy (its stats port listening: it may have just started) shows <paramref name="server"/> in <paramref name="status"/>.</summary>
    private static async Task WaitForStatusAsync(int statsPort, string server, string status)
    {
        var watch = Stopwatch.StartNew();
        while (!await HasStatusAsync())
        {
            if (watch.Elapsed > Bound) throw new TimeoutException($"HAProxy did not see {server} {status} within {Bound.TotalSeconds:0}s");
            await Task.Delay(50);
        }

        async Task<bool> HasStatusAsync()
        {
            try
            {
                return (await StatsAsync(statsPort)).TryGetValue(server, out var s) && s.Status == status;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }
}
