using System.Net;
using Prefork.Tests.Server;

namespace Prefork.Tests.Tls;

/// <summary>What the master checks of --certfile, --keyfile, --ca-certs and https:// binds before it starts anything.</summary>
public class TlsConfigTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Theory]
    [InlineData("--keyfile and --ca-certs need --certfile", new[] { "--keyfile", "key.pem" })]
    [InlineData("--keyfile and --ca-certs need --certfile", new[] { "--ca-certs", "ca.pem" })]
    [InlineData("--bind https://127.0.0.1:8443: https:// needs --certfile", new[] { "--bind", "https://127.0.0.1:8443" })]
    [InlineData("--certfile: no such file '/no/such/cert.pem'", new[] { "--certfile", "/no/such/cert.pem" })]
    public void Refuses_with_one_line(string error, string[] args)
    {
        var (config, got) = MasterConfigTests.From(args);
        Assert.Null(config);
        Assert.Equal(error, got);
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_or_a_file_that_is_not_PEM_is_refused_naming_the_files()
    {
        var (cert, _, _) = _certificates.Server("a");
        var (_, otherKey, _) = _certificates.Server("b");
        var (config, error) = MasterConfigTests.From("--certfile", cert, "--keyfile", otherKey);
        Assert.Null(config);
        Assert.StartsWith($"--certfile {cert} with --keyfile {otherKey}: ", error);
        Assert.DoesNotContain('\n', error!);

        var notPem = Path.Combine(_certificates.Folder, "not.pem");
        File.WriteAllText(notPem, "hello\n");
        (config, error) = MasterConfigTests.From("--certfile", notPem, "--keyfile", otherKey);
        Assert.Null(config);
        Assert.StartsWith($"--certfile {notPem} with --keyfile {otherKey}: ", error);

        (config, error) = MasterConfigTests.From("--certfile", cert, "--keyfile", cert);
        Assert.Null(config);
        Assert.StartsWith($"--certfile {cert} with --keyfile {cert}: ", error);
    }

    [Fact]
    public void A_certificate_makes_unmarked_binds_TLS_unless_some_bind_is_marked_https()
    {
        var (cert, key, _) = _certificates.Server("a");
        var (config, error) = MasterConfigTests.From("--certfile", cert, "--keyfile", key, "--bind", "127.0.0.1:1", "--bind", "http://127.0.0.1:2");
        Assert.Null(error);
        Assert.Equal([true, false], config!.Binds.Select(b => b.IsTls));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 1), config.Binds[0].EndPoint);
        Assert.Equal(cert, config.WorkerTemplate.Tls!.CertFile);

        (config, error) = MasterConfigTests.From("--certfile", cert, "--keyfile", key, "--bind", "127.0.0.1:1", "--bind", "https://127.0.0.1:2");
        Assert.Null(error);
        Assert.Equal([false, true], config!.Binds.Select(b => b.IsTls));

        (config, error) = MasterConfigTests.From("--certfile", cert, "--keyfile", key, "--bind", "http://127.0.0.1:1");
        Assert.Equal("--certfile: every --bind is marked http://, so none would serve TLS", error);
    }

    [Fact]
    public async Task The_master_refuses_a_mismatched_key_with_one_line_and_a_non_zero_exit()
    {
        var (cert, _, _) = _certificates.Server("a");
        var (_, otherKey, _) = _certificates.Server("b");
        var run = await Tool.RunAsync(Path.Combine(AppContext.BaseDirectory, "Prefork.Master"), ["--certfile", cert, "--keyfile", otherKey, "--bind", "127.0.0.1:0"]);
        Assert.Equal(2, run.ExitCode);
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: --certfile ", lines[0]);
    }
}
