using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// The deployment README's "Deploying" section makes: dotnet publish of the master, which publishes the worker
/// beside it, both NativeAOT. Published once for the whole class.
/// </summary>
public sealed class PublishedBuild : IAsyncLifetime
{
    /// <summary>
    /// The publish's own obj and bin, kept from one test run to the next so that an unchanged source is not
    /// compiled to native code again. Kept apart from src/*/obj: a publish restores for a runtime and
    /// dotnet build does not, and sharing one assets file made each rebuild the other from scratch.
    /// </summary>
    private static readonly string Artifacts = Path.Combine(AppContext.BaseDirectory, "published-build");

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("prefork-published-").FullName;

    // From a fresh clone it compiles everything, beside the other NativeAOT publish (the webapiaot app that is its
    // own master) and the template builds: over eight minutes was seen on two cores.
    public Task InitializeAsync() => PublishAsync(Directory, TimeSpan.FromMinutes(15));

    /// <summary>Publishes the master again, as a developer does after an edit, into <paramref name="directory"/>.</summary>
    public Task PublishAsync(string directory, TimeSpan bound) => DotnetCli.RunAsync(bound,
        "publish", "src/Master", "-c", "Release", "-o", directory, "--artifacts-path", Artifacts, "--nologo", "-v", "quiet");

    /// <summary>The native object files the publish compiled, master's and worker's, with when each was written.</summary>
    public Dictionary<string, DateTime> NativeObjects() =>
        System.IO.Directory.GetFiles(Path.Combine(Artifacts, "obj"), "Prefork.*.o", SearchOption.AllDirectories)
            .ToDictionary(path => path, File.GetLastWriteTimeUtc);

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The NativeAOT build is the one people deploy and the benchmark measures, so it is tested as it ships: the
/// trimmed command-line parser reads every flag, workers serve and are replaced, an IHttpApp --app, which needs
/// a JIT, is refused up front, an ASP.NET Core app, which runs on its own runtime, is served, and a worker
/// gives back the memory a burst of connections made its GC commit.
/// </summary>
[Collection(BuildsFirst.Publish)]
public sealed partial class PublishedBuildTests(PublishedBuild build, AspNetCore.WebAppBuild apps, ITestOutputHelper output)
    : IClassFixture<PublishedBuild>, IClassFixture<AspNetCore.WebAppBuild>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private Task<MasterProcess> StartAsync(params string[] args) => MasterProcess.StartAsync(args, output, directory: build.Directory);

    [Fact]
    public void Both_programs_are_native()
    {
        foreach (var program in new[] { "Prefork.Master", "Prefork.Worker" })
        {
            var head = new byte[4];
            using (var file = File.OpenRead(Path.Combine(build.Directory, program))) file.ReadExactly(head);
            Assert.Equal("\x7f" + "ELF", Encoding.ASCII.GetString(head));
            Assert.False(File.Exists(Path.Combine(build.Directory, program + ".dll")), $"{program}.dll is in the published folder");
        }
    }

    /// <summary>
    /// A publish with nothing changed compiles nothing: the master's and the worker's publishes build the shared
    /// libraries with the same properties, so neither makes the other's output stale (when they did not, every
    /// publish, and so every test run on a built tree, spent over a minute compiling both executables again).
    /// </summary>
    [Fact]
    public async Task Publishing_again_with_nothing_changed_compiles_nothing()
    {
        var before = build.NativeObjects();
        Assert.Equal(["Prefork.Master.o", "Prefork.Worker.o"], before.Keys.Select(Path.GetFileName).Order());
        var again = System.IO.Directory.CreateTempSubdirectory("prefork-published-again-");
        try
        {
            await build.PublishAsync(again.FullName, TimeSpan.FromMinutes(5));
            Assert.Equal(before, build.NativeObjects());
            Assert.True(File.Exists(Path.Combine(again.FullName, "Prefork.Worker")));
        }
        finally
        {
            again.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Workers_serve_and_a_killed_one_is_replaced()
    {
        await using var master = await StartAsync("--workers", "2", "-k", "sync");
        await master.WaitForReadyAsync(2, Bound);
        Assert.Equal("Hello, World!", (await RawHttpConnection.GetAsync(master.Port, "/hello")).BodyText);
        var worker = JsonDocument.Parse((await RawHttpConnection.GetAsync(master.Port, "/worker")).BodyText).RootElement;
        Assert.Equal("sync", worker.GetProperty("class").GetString());

        var victim = master.WorkerPids.First();
        int mark = master.LineCount;
        Assert.True(Native.SendSignal(victim, Native.SIGKILL));
        var booted = await master.WaitForLineAsync(MasterProcess.BootingRegex(), Bound, mark);
        var replacement = int.Parse(booted.Groups["pid"].Value);
        await master.WaitForLineAsync(new Regex($@"\(pid {replacement}\) ready"), Bound, mark);

        var pids = new HashSet<int>();
        for (int i = 0; i < 20; i++) pids.Add((await RawHttpConnection.GetAsync(master.Port, "/worker")).WorkerPid);
        Assert.DoesNotContain(victim, pids);
        Assert.Subset(master.WorkerPids.ToHashSet(), pids);

        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(Bound));
        Assert.Empty(await ProcFs.WaitAllGoneAsync(master.AllWorkerPids, Bound));
    }

    [Fact]
    public async Task An_aspnetcore_app_runs_under_the_native_master()
    {
        // An ASP.NET Core app boots in a second or so, on a busy machine in several.
        var bound = TimeSpan.FromSeconds(60);
        await using var master = await StartAsync("--workers", "1", "--app", apps.Hello);
        await master.WaitForReadyAsync(1, bound);
        var response = await RawHttpConnection.GetAsync(master.Port, "/");
        Assert.Equal((200, "Hello World!"), (response.Status, response.BodyText));
        Assert.True(master.Signal(Native.SIGTERM));
        Assert.Equal(0, await master.WaitForExitAsync(bound));
    }

    [Fact]
    public async Task Every_kind_of_flag_reaches_the_master()
    {
        var site = System.IO.Directory.CreateTempSubdirectory("prefork-published-site-");
        try
        {
            File.WriteAllText(Path.Combine(site.FullName, "a.txt"), "static a");
            var pidFile = Path.Combine(site.FullName, "prefork.pid");
            // Each value differs from its default, so a flag the parser dropped shows.
            await using var master = await StartAsync(
                "--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--workers", "1",
                "--worker-connections", "7", "--backlog", "64", "--keep-alive", "3", "--request-timeout", "9",
                "--graceful-timeout", "4", "--limit-request-line", "200", "--limit-request-fields", "20",
                "--limit-request-field-size", "300", "--limit-request-body", "1000", "-t", "25",
                "--max-requests", "1000", "--max-requests-jitter", "5", "--pid", pidFile, "--access-log-format", "json",
                "--log-level", "debug", "--root", site.FullName, "--root-prefix", "/static", "--metrics-bind", "127.0.0.1:0",
                "--reuse-port", "--proxy-protocol", "--proxy-allow-from", "127.0.0.0/8", "--forwarded-allow-ips", "*",
                "--health-path", "/up", "--shutdown-delay", "1");
            await master.WaitForReadyAsync(1, Bound);
            Assert.Equal(2, master.Lines.Count(l => MasterProcess.ListeningRegex().IsMatch(l)));
            Assert.Equal(master.MasterPid.ToString(), File.ReadAllText(pidFile).Trim());

            // --proxy-protocol: every connection starts with a PROXY header, and one without is closed unanswered.
            async Task<RawResponse> GetAsync(string path)
            {
                await using var c = await RawHttpConnection.ConnectAsync(master.Port);
                await c.SendAsync($"PROXY TCP4 203.0.113.1 127.0.0.1 4711 80\r\nGET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                return await c.ReadResponseAsync();
            }
            Assert.Equal("static a", (await GetAsync("/static/a.txt")).BodyText);
            Assert.Equal("ok\n", (await GetAsync("/up")).BodyText);
            Assert.Equal(414, (await GetAsync("/" + new string('a', 300))).Status);
            await using (var c = await RawHttpConnection.ConnectAsync(master.Port))
            {
                await c.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                Assert.True(await c.IsClosedByServerAsync());
            }
            await master.WaitForLineAsync(l => l.Contains("[DEBUG] Rejected request: 414", StringComparison.Ordinal), Bound);

            await using (var c = await RawHttpConnection.ConnectAsync(master.Port))
            {
                await c.SendAsync("PROXY UNKNOWN\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
                Assert.Equal(413, (await c.ReadResponseAsync()).Status);
            }
            int metricsPort = await master.WaitForMetricsPortAsync(Bound);
            Assert.Equal(200, (await RawHttpConnection.GetAsync(metricsPort, "/metrics")).Status);
        }
        finally
        {
            site.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("'many'", "--workers", "many")]
    [InlineData("--no-such-flag", "--no-such-flag")]
    [InlineData("--app", "--app", "/etc/hostname")]
    [InlineData("option '--workers' needs a value", "--workers")]
    [InlineData("unexpected argument 'stray'", "--workers", "2", "stray")]
    public async Task A_bad_command_line_gets_one_error_line_and_exit_2(string expected, params string[] args)
    {
        await using var master = await StartAsync(args);
        Assert.Equal(2, await master.WaitForExitAsync(Bound));
        var lines = master.Lines.Where(l => l.Length > 0).ToList();
        Assert.True(lines.Count == 1 && lines[0].StartsWith("error:", StringComparison.Ordinal), string.Join("\n", lines));
        Assert.Contains(expected, lines[0]);
        Assert.Empty(master.AllWorkerPids);
    }

    /// <summary>
    /// A burst of connections leaves the GC with regions committed beyond what the connections use (its grown
    /// budget, and what the burst allocated since its last collection), which an idle worker, allocating nothing,
    /// would keep for good. IdleTrim gives them back within a few ticks of the last request, while the worker
    /// still holds every connection: afterwards the GC holds no more than it uses. How much that gives back
    /// depends on where the burst's last collection fell (from nothing to 8.6 MB was seen), so the RSS it
    /// saves is the benchmark's to report (bench.sh --only hold), and this test holds the worker to its word:
    /// it trims once the burst is quiet, and what stays committed is what is live.
    /// </summary>
    [Fact]
    public async Task A_worker_gives_back_memory_once_a_burst_of_connections_goes_quiet()
    {
        const int Connections = 5000;
        const long Spare = 1024;
        // The trim comes two or three ticks after the last request; the rest is room for a loaded machine.
        var trimBound = TimeSpan.FromSeconds(15);
        await using var master = await StartAsync("--workers", "1", "--keep-alive", "120",
            "--worker-connections", $"{Connections + 100}", "--log-level", "debug");
        await master.WaitForReadyAsync(1, Bound);
        int worker = master.WorkerPids.Single();
        long before = ProcFs.RssKiB(worker);
        int mark = master.LineCount;
        var clients = await OpenIdleAsync(master.Port, Connections);
        try
        {
            long held = ProcFs.RssKiB(worker);
            var trim = await master.WaitForLineAsync(IdleTrimRegex(), trimBound, mark);
            long committedAfter = long.Parse(trim.Groups["after"].Value), live = long.Parse(trim.Groups["live"].Value);
            output.WriteLine($"worker RSS {before} kB before, {held} kB holding {Connections} idle connections, " +
                             $"{ProcFs.RssKiB(worker)} kB after the trim");
            Assert.True(committedAfter <= live + Spare, $"after the trim the GC still holds {committedAfter} KiB for {live} KiB live");
            Assert.Equal(worker, master.WorkerPids.Single());
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [GeneratedRegex(@"Idle trim: [0-9.]+ ms; the GC now holds (?<after>\d+) KiB for (?<live>\d+) KiB live")]
    private static partial Regex IdleTrimRegex();

    /// <summary>Opens <paramref name="count"/> keep-alive connections, each answered once and then left idle.</summary>
    private static async Task<Socket[]> OpenIdleAsync(int port, int count)
    {
        var request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
        using var lanes = new SemaphoreSlim(200);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            await lanes.WaitAsync(timeout.Token);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
                await client.SendAsync(request, SocketFlags.None, timeout.Token);
                var response = new byte[512];
                int n = await client.ReceiveAsync(response, SocketFlags.None, timeout.Token);
                Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(response, 0, n));
                return client;
            }
            catch
            {
                client.Dispose();
                throw;
            }
            finally
            {
                lanes.Release();
            }
        }));
    }

    [Fact]
    public async Task Version_and_help_print()
    {
        await using (var version = await StartAsync("--version"))
        {
            Assert.Equal(0, await version.WaitForExitAsync(Bound));
            Assert.Contains(version.StdoutLines, l => l.StartsWith("prefork 0.", StringComparison.Ordinal));
        }
        await using var help = await StartAsync("--help");
        Assert.Equal(0, await help.WaitForExitAsync(Bound));
        Assert.Contains(help.StdoutLines, l => l.Contains("--max-requests-jitter", StringComparison.Ordinal));
        CommandLineTests.AssertUsageNamesTheProgram(help.StdoutLines);
    }
}
