using System.Diagnostics;
using System.Reflection;
using Prefork.Control;
using Prefork.Http;
using Prefork.Http.Tls;

namespace Prefork.Tests.Control;

/// <summary>The settings a master hands a worker travel as one record: whole, or not at all.</summary>
public class WorkerSettingsTests
{
    // Every member differs from what it would be unset, so a member that did not travel shows.
    private static readonly WorkerSettings Sample = new()
    {
        ListenFds = [3, 7],
        TlsListenFds = [7],
        Tls = new TlsSettings { CertFile = "/etc/prefork/fullchain.pem", KeyFile = "/etc/prefork/privkey.pem", CaCerts = "/etc/prefork/clients.pem" },
        ListenUrls = ["http://127.0.0.1:8888", "http://unix:/run/prefork.sock"],
        ScoreboardFd = 9,
        ScoreboardSlot = 5,
        TicketKeysFd = 12,
        Number = 4,
        Class = WorkerClass.Sync,
        MaxConnections = 7,
        GracefulTimeout = TimeSpan.FromSeconds(4),
        Limits = new HttpLimits
        {
            MaxRequestLine = 200,
            MaxHeaderFields = 20,
            MaxHeaderFieldSize = 300,
            MaxBodySize = 1000,
            MaxHeadersTotalSize = 4096,
            KeepAlive = TimeSpan.FromSeconds(3),
            RequestTimeout = TimeSpan.FromMilliseconds(9500),
        },
        ProxyTrust = new ProxyTrust
        {
            ProxyProtocol = true,
            ProxyAllowFrom = AddressList.Parse("10.0.0.0/8, 2001:db8::/32"),
            ForwardedAllowIps = AddressList.Parse("*"),
        },
        LogLevel = Log.Level.Warning,
        MaxRequests = 1000,
        MaxRequestsJitter = 5,
        Uid = 1000,
        Gid = 1001,
        AccessLog = "/var/log/prefork/access.log",
        AccessLogFd = 11,
        AccessLogFormat = AccessLogFormat.Json,
        ErrorLog = "/var/log/prefork/error.log",
        StaticRoot = "/srv/www",
        StaticPrefix = "/static",
        AppAssembly = "/srv/app/MyApp.dll",
        AppType = "MyApp.Shop",
        AppKind = AppKind.Self,
        AppArguments = ["--environment", "Staging"],
        HealthPath = "/healthz",
    };

    private static readonly WorkerSettings Unset = new()
    {
        ListenFds = [], Number = 0, Class = default, MaxConnections = 0, GracefulTimeout = default, Limits = new(), ProxyTrust = new(),
        LogLevel = default, MaxRequests = 0, MaxRequestsJitter = 0, AccessLogFormat = default, StaticPrefix = "",
    };

    private static IEnumerable<PropertyInfo> Members(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    private static string Show(object? value) => value switch
    {
        int[] fds => string.Join(',', fds),
        string[] urls => string.Join(',', urls),
        _ => $"{value}",
    };

    [Fact]
    public void Every_member_arrives_as_it_was_sent()
    {
        foreach (var (record, unset) in new (object, object)[] { (Sample, Unset), (Sample.Limits, Unset.Limits), (Sample.ProxyTrust, Unset.ProxyTrust) })
        {
            foreach (var member in Members(record.GetType()))
                Assert.True(Show(member.GetValue(record)) != Show(member.GetValue(unset)), $"the sample leaves {member.Name} unset");
        }

        var arrived = WorkerSettings.FromJson(Sample.ToJson());

        foreach (var member in Members(typeof(WorkerSettings)))
            Assert.True(Show(member.GetValue(Sample)) == Show(member.GetValue(arrived)), $"{member.Name} did not arrive");
        Assert.Equal(Sample.Limits, arrived.Limits);
        Assert.Equal(Sample.ProxyTrust, arrived.ProxyTrust);
        Assert.True(arrived.ProxyTrust.ProxyAllowFrom.Contains(System.Net.IPAddress.Parse("10.9.8.7")));
        Assert.Equal(Sample.Limits.MaxHeadSize, arrived.Limits.MaxHeadSize);
    }

    [Fact]
    public void Keep_alive_zero_arrives_as_keep_alive_off()
    {
        var off = Sample with { Limits = Sample.Limits with { KeepAlive = TimeSpan.Zero } };
        var arrived = WorkerSettings.FromJson(off.ToJson()).Limits;
        Assert.False(arrived.KeepAliveEnabled);
        Assert.Equal(TimeSpan.FromMilliseconds(9500), arrived.IdleTimeout);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("null")]
    [InlineData("""{"Number":1}""")]
    [InlineData("""{"ListenFds":"3"}""")]
    public void A_malformed_or_partial_record_is_refused_with_one_line_naming_the_variable(string json)
    {
        var e = Assert.Throws<InvalidOperationException>(() => WorkerSettings.FromJson(json));
        Assert.StartsWith($"{WorkerSettings.EnvironmentVariable} is malformed: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>A worker started by hand, with no record or a bad one, refuses to boot and tells the master not to respawn it.</summary>
    [Theory]
    [InlineData(null, "is not set: workers are started by the master")]
    [InlineData("""{"ListenFds":[3]}""", "is malformed: ")]
    public async Task A_worker_without_its_record_exits_3_with_one_line(string? record, string expected)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Prefork.Worker"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment.Remove(WorkerSettings.EnvironmentVariable);
        if (record != null) start.Environment[WorkerSettings.EnvironmentVariable] = record;
        using var worker = Process.Start(start)!;
        var stdout = worker.StandardOutput.ReadToEndAsync();
        var stderr = worker.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await worker.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            worker.Kill();
            throw;
        }

        Assert.Equal(ControlChannel.BootErrorExitCode, worker.ExitCode);
        Assert.Equal("", await stdout);
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, string.Join('\n', lines));
        Assert.Contains($"[CRITICAL] Worker cannot boot: {WorkerSettings.EnvironmentVariable} {expected}", lines[0]);
    }
}
