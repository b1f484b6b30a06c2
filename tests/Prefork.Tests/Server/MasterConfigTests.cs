using CommandLine;
using Prefork.Control;
using Prefork.Http;
using Prefork.Master;

namespace Prefork.Tests.Server;

/// <summary>
/// Every rule of <see cref="MasterConfig.From"/>, in process: a command line as the master parses it, and the
/// one line it must be refused with (CommandLineTests runs the real binary for a few of them).
/// </summary>
public class MasterConfigTests
{
    internal static (MasterConfig? Config, string? Error) From(params string[] args)
    {
        var parser = new Parser(s =>
        {
            s.HelpWriter = null;
            s.AllowMultiInstance = true;
            s.CaseInsensitiveEnumValues = true;
        });
        var parsed = parser.ParseArguments<Options>(args);
        Assert.True(parsed is Parsed<Options>, $"the parser refused {string.Join(' ', args)}");
        return MasterConfig.From(((Parsed<Options>)parsed).Value);
    }

    public static TheoryData<string, string[]> Refused => new()
    {
        { "--workers must be from 1 to 256 (got 0)", ["--workers", "0"] },
        { "--workers must be from 1 to 256 (got 257)", ["--workers", "257"] },
        { "--worker-class must be async or sync (got 'gevent')", ["--worker-class", "gevent"] },
        { "--worker-class must be async or sync (got '1')", ["--worker-class", "1"] },
        { "--worker-connections must be at least 1 (got 0)", ["--worker-connections", "0"] },
        { "--backlog must be at least 1 (got 0)", ["--backlog", "0"] },
        { "--keep-alive must be 0 or more seconds (got -1)", ["--keep-alive", "-1"] },
        { "--request-timeout must be at least 1 second (got 0)", ["--request-timeout", "0"] },
        { "--graceful-timeout must be 0 or more seconds (got -1)", ["--graceful-timeout", "-1"] },
        { "--shutdown-delay must be 0 or more seconds (got -1)", ["--shutdown-delay", "-1"] },
        { "--health-path must be a plain URL path starting with / (got 'healthz')", ["--health-path", "healthz"] },
        { "--health-path must be a plain URL path starting with / (got '/healthz?full')", ["--health-path", "/healthz?full"] },
        { "--health-path must be a plain URL path starting with / (got '/a/../healthz')", ["--health-path", "/a/../healthz"] },
        { "--limit-request-line must be at least 16 (got 15)", ["--limit-request-line", "15"] },
        { "--limit-request-fields must be at least 1 (got 0)", ["--limit-request-fields", "0"] },
        { "--limit-request-field-size must be at least 16 (got 8)", ["--limit-request-field-size", "8"] },
        { "--limit-request-body must be 0 or more (got -1)", ["--limit-request-body", "-1"] },
        { "--timeout must be at least 1 second (got 0)", ["--timeout", "0"] },
        { "--max-requests must be 0 or more (got -5)", ["--max-requests", "-5"] },
        { "--max-requests-jitter must be 0 or more (got -1)", ["--max-requests-jitter", "-1"] },
        { "--user: no such user 'no-such-user-prefork'", ["--user", "no-such-user-prefork"] },
        { "--group: no such group 'no-such-group-prefork'", ["--group", "no-such-group-prefork"] },
        { "--root: no such directory '/no/such/prefork/root'", ["--root", "/no/such/prefork/root"] },
        { "--root-prefix must be a plain URL path starting with / (got 'static')", ["--root-prefix", "static"] },
        { "--root-prefix must be a plain URL path starting with / (got '/a/../b')", ["--root-prefix", "/a/../b"] },
        { "--root-prefix must be a plain URL path starting with / (got '/a%2fb')", ["--root-prefix", "/a%2fb"] },
        { "--app: no such file '/no/such/App.dll'", ["--app", "/no/such/App.dll"] },
        { "--log-level must be debug, info, warning, error or critical (got 'loud')", ["--log-level", "loud"] },
        { "--access-log-format must be combined, common or json (got 'xml')", ["--access-log-format", "xml"] },
        { "--proxy-allow-from: '10.0.0.0/33': the prefix must be a number from 0 to 32", ["--proxy-allow-from", "10.0.0.0/33"] },
        { "--proxy-allow-from: '10.1.2.3/8' has bits set past its /8 (the network is 10.0.0.0/8)", ["--proxy-allow-from", "10.1.2.3/8"] },
        { "--forwarded-allow-ips: 'lb.example' is not an IP address or network (a.b.c.d, an IPv6 address, either with /PREFIX, or *)", ["--forwarded-allow-ips", "127.0.0.1,lb.example"] },
        { "--status needs --metrics-bind HOST:PORT of the running master", ["--status"] },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Refuses_with_one_line_naming_the_flag(string error, string[] args)
    {
        var (config, got) = From(args);
        Assert.Null(config);
        Assert.Equal(error, got);
    }

    [Theory]
    [InlineData("--bind", "127.0.0.1:99999")]
    [InlineData("--bind", "nohost")]
    [InlineData("--metrics-bind", "unix:/tmp/metrics.sock")]
    public void An_address_that_does_not_parse_is_refused_with_the_flag_and_the_text(string flag, string text)
    {
        var (config, got) = From(flag, text);
        Assert.Null(config);
        Assert.StartsWith($"{flag} {text}: ", got);
    }

    [Fact]
    public void A_file_given_as_root_is_called_a_file()
    {
        var file = Path.GetTempFileName();
        try
        {
            Assert.Equal($"--root: '{file}' is a file, not a directory", From("--root", file).Error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void An_empty_command_line_gives_the_engines_own_defaults()
    {
        // The flags name HttpLimits' constants, so the master's workers and its metrics listener (new HttpLimits()) agree.
        var (config, error) = From();
        Assert.Null(error);
        Assert.Equal(new HttpLimits(), config!.WorkerTemplate.Limits);
        Assert.Equal(new ProxyTrust(), config.WorkerTemplate.ProxyTrust);
        Assert.True(config.WorkerTemplate.Limits.KeepAliveEnabled);
        Assert.Equal(long.MaxValue, config.WorkerTemplate.RequestsBeforeRetiring());
        // No health path (every path is the app's) and no lame duck: TERM stops at once.
        Assert.Null(config.WorkerTemplate.HealthPath);
        Assert.Equal(TimeSpan.Zero, config.ShutdownDelay);
    }

    [Fact]
    public void Seconds_become_time_spans_and_zero_keeps_its_meaning()
    {
        var (config, error) = From("--workers", "3", "--keep-alive", "0", "--graceful-timeout", "0", "--timeout", "7",
            "--worker-class", "SYNC", "--bind", "127.0.0.1:0", "--bind", "[::1]:0");
        Assert.Null(error);
        Assert.Equal(3, config!.Workers);
        Assert.Equal(2, config.Binds.Count);
        Assert.Equal(TimeSpan.Zero, config.GracefulTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), config.Timeout);
        Assert.Equal(TimeSpan.Zero, config.WorkerTemplate.Limits.KeepAlive);
        Assert.False(config.WorkerTemplate.Limits.KeepAliveEnabled);
        Assert.Equal(config.WorkerTemplate.Limits.RequestTimeout, config.WorkerTemplate.Limits.IdleTimeout);
        Assert.Equal(WorkerClass.Sync, config.WorkerTemplate.Class);
    }
}
