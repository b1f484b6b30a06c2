using System.Security.Cryptography.X509Certificates;
using Prefork.Master;
using Prefork.Tests.Metrics;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.Tls;

/// <summary>
/// The master tells when its certificate ends, at start and on each reload: a [WARNING] from 30 days before, an
/// [ERROR] once past (and serves it still), and prefork_tls_certificate_expiry_timestamp_seconds on /metrics.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class CertificateExpiryTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly DateTime Now = new(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Theory]
    [InlineData(90 * 24.0, null)]
    [InlineData(30 * 24 + 1.0, null)]
    [InlineData(30 * 24.0, "[Warning] /c.pem: the certificate expires on 2027-01-01 12:00:00 UTC, in 30 days (renew it, then send HUP)")]
    [InlineData(36.0, "[Warning] /c.pem: the certificate expires on 2026-12-04 00:00:00 UTC, in 1 day (renew it, then send HUP)")]
    [InlineData(1.0, "[Warning] /c.pem: the certificate expires on 2026-12-02 13:00:00 UTC, in less than a day (renew it, then send HUP)")]
    [InlineData(0.0, "[Error] /c.pem: the certificate expired on 2026-12-02 12:00:00 UTC; clients that verify it refuse every connection (renew it, then send HUP)")]
    [InlineData(-48.0, "[Error] /c.pem: the certificate expired on 2026-11-30 12:00:00 UTC; clients that verify it refuse every connection (renew it, then send HUP)")]
    public void Warns_from_30_days_before_the_end_and_errs_after_it(double hoursLeft, string? expected)
    {
        var note = CertificateExpiry.Note("/c.pem", Now.AddHours(hoursLeft), Now);
        Assert.Equal(expected, note is { } n ? $"[{n.Level}] {n.Message.Replace("--certfile ", "")}" : null);
    }

    [Fact]
    public async Task The_master_tells_the_certificates_end_at_start_and_on_each_reload()
    {
        var (cert, key, _) = _certificates.Server("soon");
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key, "--metrics-bind", "127.0.0.1:0"], output);
        int metrics = await master.WaitForMetricsPortAsync(Bound);
        var soon = NotAfter(cert);
        await master.WaitForLineAsync(l => l.Contains($"[WARNING] --certfile {cert}: the certificate expires on {soon:yyyy-MM-dd HH:mm:ss} UTC, in 9 days", StringComparison.Ordinal), Bound);
        await WaitForGaugeAsync(metrics, soon);

        // Renewed for 90 days: the reload says nothing about it, and the gauge moves.
        Replace(cert, key, _certificates.Server("renewed", until: DateTimeOffset.UtcNow.AddDays(90)));
        var renewed = NotAfter(cert);
        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGHUP));
        await master.WaitForLineAsync(l => l.Contains("reloading: booting generation 1", StringComparison.Ordinal), Bound, mark);
        await WaitForGaugeAsync(metrics, renewed);
        Assert.DoesNotContain(master.Lines.Skip(mark), l => l.Contains("--certfile", StringComparison.Ordinal));

        // Expired: the reload goes ahead (an expired certificate is served, as at start), with an error line.
        Replace(cert, key, _certificates.Server("expired", expired: true));
        mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGHUP));
        await master.WaitForLineAsync(l => l.Contains("reloading: booting generation 2", StringComparison.Ordinal), Bound, mark);
        await master.WaitForLineAsync(l => l.Contains($"[ERROR] --certfile {cert}: the certificate expired on {NotAfter(cert):yyyy-MM-dd HH:mm:ss} UTC", StringComparison.Ordinal), Bound, mark);
        await WaitForGaugeAsync(metrics, NotAfter(cert));
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 1, Bound, mark);
        Assert.Equal(200, (await TlsClient.GetAsync(TlsTests.TlsPort(master))).Status);
    }

    private static void Replace(string cert, string key, (string Cert, string Key, string Serial) by)
    {
        File.Move(by.Cert, cert, overwrite: true);
        File.Move(by.Key, key, overwrite: true);
    }

    private static DateTime NotAfter(string cert) => X509Certificate2.CreateFromPem(File.ReadAllText(cert)).NotAfter.ToUniversalTime();

    /// <summary>Scrapes until the gauge shows <paramref name="notAfter"/>: the loop sets it in the turn that logs the reload, maybe just after the line.</summary>
    private static async Task WaitForGaugeAsync(int metricsPort, DateTime notAfter)
    {
        long expected = (long)(notAfter - DateTime.UnixEpoch).TotalSeconds;
        var deadline = DateTime.UtcNow + Bound;
        double? shown;
        while ((shown = PrometheusParser.Parse((await RawHttpConnection.GetAsync(metricsPort, "/metrics")).BodyText)
                   .TryValue("prefork_tls_certificate_expiry_timestamp_seconds")) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the gauge shows {shown}, not {expected}");
            await Task.Delay(100);
        }
    }
}
