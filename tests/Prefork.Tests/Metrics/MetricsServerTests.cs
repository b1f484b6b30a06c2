using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.Metrics;

/// <summary>The real master with --metrics-bind: exact counts, counts that survive a kill -9, status on demand.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class MetricsServerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private const string GetOk = "prefork_requests_total";

    private static async Task<PrometheusParser> ScrapeAsync(int metricsPort)
    {
        var r = await RawHttpConnection.GetAsync(metricsPort, "/metrics");
        Assert.Equal(200, r.Status);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Header("Content-Type"));
        return PrometheusParser.Parse(r.BodyText);
    }

    private static double GetOkCount(PrometheusParser p) => p.Value(GetOk, ("method", "GET"), ("status", "2xx"));

    /// <summary>Scrapes until the predicate holds (reports come once a second); every scrape must parse and <paramref name="check"/> each.</summary>
    private static async Task<PrometheusParser> WaitForAsync(int metricsPort, Func<PrometheusParser, bool> until, Action<PrometheusParser>? check = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var p = await ScrapeAsync(metricsPort);
            check?.Invoke(p);
            if (until(p)) return p;
            if (deadline.Elapsed > Bound) throw new TimeoutException($"metrics never settled; last:\n{string.Join("\n", p.Samples)}");
            await Task.Delay(200);
        }
    }

    private static async Task SendHelloAsync(int port, int count)
    {
        for (int i = 0; i < count; i++) Assert.Equal(200, (await RawHttpConnection.GetAsync(port, "/hello")).Status);
    }

    [Fact]
    public async Task Counts_are_exact_and_never_go_backwards_across_a_kill_9()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["--metrics-bind", "127.0.0.1:0"], output);
        int metrics = await master.WaitForMetricsPortAsync();
        Assert.NotEqual(master.Port, metrics);

        await SendHelloAsync(master.Port, 37);
        var p = await WaitForAsync(metrics, p => GetOkCount(p) >= 37);
        Assert.Equal(37, GetOkCount(p));
        Assert.Equal(37 * "Hello, World!".Length, p.Value("prefork_response_bytes_total"));
        Assert.Equal(37, p.Samples.Where(s => s.Name == "prefork_connections_accepted_total").Sum(s => s.Value));
        Assert.Equal(37, p.Value("prefork_request_duration_seconds_count"));
        Assert.True(p.Value("prefork_request_bytes_total") > 37 * 20);
        Assert.Equal(2, p.Value("prefork_workers_alive"));
        Assert.Equal(0, p.Value("prefork_worker_restarts_total", ("cause", "crash")));
        var acceptedBefore = p.Samples.Where(s => s.Name == "prefork_connections_accepted_total").ToDictionary(s => s.Labels["worker"], s => s.Value);

        // Every request above is in a report already (the total reached 37), so the kill loses nothing.
        var victim = master.WorkerPids.First();
        int mark = master.LineCount;
        Assert.True(Native.SendSignal(victim, Native.SIGKILL));
        await master.WaitForLineAsync(new Regex($@"\(pid {victim}\) was killed by signal 9; replacing it"), Bound, mark);
        void NeverLower(PrometheusParser s)
        {
            Assert.Equal(37, GetOkCount(s));
            foreach (var (worker, accepted) in acceptedBefore)
                Assert.True(s.Value("prefork_connections_accepted_total", ("worker", worker)) >= accepted, $"worker {worker} accepted went down");
        }
        p = await WaitForAsync(metrics, s => s.Value("prefork_worker_restarts_total", ("cause", "crash")) == 1, NeverLower);
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 1, Bound, mark);
        p = await WaitForAsync(metrics, s => s.Value("prefork_workers_alive") == 2, NeverLower);
        Assert.Equal(0, p.Value("prefork_worker_restarts_total", ("cause", "timeout")));

        await SendHelloAsync(master.Port, 3);
        p = await WaitForAsync(metrics, s => GetOkCount(s) >= 40);
        Assert.Equal(40, GetOkCount(p));
        Assert.Equal(1, p.Value("prefork_worker_restarts_total", ("cause", "crash")));
    }

    [Fact]
    public async Task A_worker_retired_by_ttou_sends_its_final_counts_and_counts_as_scale_down()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["--metrics-bind", "127.0.0.1:0"], output);
        int metrics = await master.WaitForMetricsPortAsync();
        int mark = master.LineCount;
        await SendHelloAsync(master.Port, 20);
        // At once: the retired worker's last requests may come after its last heartbeat; its final report has them.
        Assert.True(master.Signal(Native.SIGTTOU));
        await master.WaitForLineAsync(MasterProcess.WorkerGoneRegex(), Bound, mark);
        var p = await WaitForAsync(metrics, s => s.Value("prefork_worker_restarts_total", ("cause", "scale_down")) == 1 && GetOkCount(s) >= 20);
        Assert.Equal(20, GetOkCount(p));
        Assert.Equal(1, p.Value("prefork_workers_alive"));
        Assert.Equal(0, p.Value("prefork_worker_restarts_total", ("cause", "crash")));
    }

    [Fact]
    public async Task Status_prints_one_line_per_worker_on_demand_and_on_sigwinch()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, ["--metrics-bind", "127.0.0.1:0"], output);
        int metrics = await master.WaitForMetricsPortAsync();
        var pids = master.WorkerPids.OrderBy(p => p).ToList();
        await SendHelloAsync(master.Port, 4);
        await WaitForAsync(metrics, s => GetOkCount(s) >= 4);

        var (code, stdout, stderr) = await RunStatusAsync(metrics);
        Assert.True(code == 0, $"--status exited {code}: {stderr}");
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^\s+pid\s+worker\s+gen\s+age\s+requests\s+conns\s+last beat$", lines[0]);
        var rows = lines[1..].Select(l => Regex.Match(l, @"^\s+(?<pid>\d+)\s+(?<n>\d+)\s+0\s+\d+s\s+(?<req>\d+)\s+\d+\s+\d+\.\ds ago$")).ToList();
        Assert.All(rows, m => Assert.True(m.Success, $"bad status line in:\n{stdout}"));
        Assert.Equal(pids, rows.Select(m => int.Parse(m.Groups["pid"].Value)).OrderBy(p => p));
        Assert.Equal(["1", "2"], rows.Select(m => m.Groups["n"].Value));
        Assert.Equal(4, rows.Sum(m => int.Parse(m.Groups["req"].Value)));

        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGWINCH));
        await master.WaitForLineAsync(l => l.Contains("Status:") && l.Contains("last beat"), Bound, mark);
        foreach (var pid in pids) await master.WaitForLineAsync(new Regex($@"\[INFO\] Status:\s+{pid}\s+\d\s+0\s"), Bound, mark);
        Assert.False(master.HasExited);
    }

    [Fact]
    public async Task Status_with_nothing_listening_says_so_in_one_line_and_exits_1()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var (code, stdout, stderr) = await RunStatusAsync(port);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("error: no prefork master answers at", stderr);
    }

    [Fact]
    public async Task Access_log_dash_writes_json_lines_to_the_masters_stdout()
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--access-log", "-", "--access-log-format", "json"], output);
        await using (var c = await RawHttpConnection.ConnectAsync(master.Port))
        {
            await c.SendAsync("GET /hello?x=\"1\" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tester/1.0\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, (await c.ReadResponseAsync()).Status);
        }
        var deadline = Stopwatch.StartNew();
        while (master.StdoutLines.Count == 0 && deadline.Elapsed < Bound) await Task.Delay(50);
        var line = Assert.Single(master.StdoutLines);
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal("127.0.0.1", json.GetProperty("remote").GetString());
        Assert.Equal("GET", json.GetProperty("method").GetString());
        Assert.Equal("/hello?x=\"1\"", json.GetProperty("target").GetString());
        Assert.Equal("HTTP/1.1", json.GetProperty("version").GetString());
        Assert.Equal(200, json.GetProperty("status").GetInt32());
        Assert.Equal(13, json.GetProperty("bytes").GetInt64());
        Assert.True(json.GetProperty("duration_ms").GetDouble() >= 0);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("referer").ValueKind);
        Assert.Equal("tester/1.0", json.GetProperty("user_agent").GetString());
        Assert.Equal(master.WorkerPids.Single(), json.GetProperty("pid").GetInt32());
        Assert.True(DateTimeOffset.TryParse(json.GetProperty("time").GetString(), out _));
    }

    [Theory]
    [InlineData("common", @"^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ""GET /hello HTTP/1\.1"" 200 13$")]
    [InlineData("combined", @"^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ""GET /hello HTTP/1\.1"" 200 13 ""-"" ""tester/1\.0""$")]
    public async Task Access_log_dash_writes_apache_formats_to_the_masters_stdout(string format, string pattern)
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--access-log", "-", "--access-log-format", format], output);
        await using (var c = await RawHttpConnection.ConnectAsync(master.Port))
        {
            await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tester/1.0\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, (await c.ReadResponseAsync()).Status);
        }
        var deadline = Stopwatch.StartNew();
        while (master.StdoutLines.Count == 0 && deadline.Elapsed < Bound) await Task.Delay(50);
        Assert.Matches(pattern, Assert.Single(master.StdoutLines));
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunStatusAsync(int port)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Prefork.Master"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "--status", "--metrics-bind", $"127.0.0.1:{port}" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Bound);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
