using Prefork.App;
using Prefork.Control;
using Prefork.Master;

namespace Prefork.Tests.Metrics;

/// <summary>The exposition as our own strict parser reads it.</summary>
public class PrometheusTextTests
{
    private static MetricsSnapshot Sample()
    {
        var t = new WorkerCounters { BytesIn = 1234, BytesOut = 99, DurationMicroseconds = 2_500_000 };
        t.Requests[(int)Method.Get * 5 + 1] = 37;
        t.Requests[(int)Method.Post * 5 + 4] = 2;
        t.DurationBuckets[0] = 30;
        t.DurationBuckets[5] = 8;
        t.DurationBuckets[^1] = 1;
        return new MetricsSnapshot(t, new SortedDictionary<int, long> { [1] = 20, [2] = 19 },
            new SortedDictionary<int, long> { [1] = 3, [2] = 0 },
            new Dictionary<string, long> { [RestartCause.Crash] = 1 }, 2, TimeSpan.FromSeconds(12.5));
    }

    [Fact]
    public void Renders_every_family_with_help_type_and_consistent_histogram()
    {
        var text = PrometheusText.Render(Sample());
        var p = PrometheusParser.Parse(text);
        Assert.Equal(37, p.Value("prefork_requests_total", ("method", "GET"), ("status", "2xx")));
        Assert.Equal(2, p.Value("prefork_requests_total", ("method", "POST"), ("status", "5xx")));
        Assert.Null(p.TryValue("prefork_requests_total", ("method", "PUT"), ("status", "2xx")));
        Assert.Equal(39, p.Value("prefork_request_duration_seconds_count"));
        Assert.Equal(39, p.Value("prefork_request_duration_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(30, p.Value("prefork_request_duration_seconds_bucket", ("le", "0.0005")));
        Assert.Equal(38, p.Value("prefork_request_duration_seconds_bucket", ("le", "0.025")));
        Assert.Equal(2.5, p.Value("prefork_request_duration_seconds_sum"));
        Assert.Equal(1234, p.Value("prefork_request_bytes_total"));
        Assert.Equal(99, p.Value("prefork_response_bytes_total"));
        Assert.Equal(3, p.Value("prefork_connections_open"));
        Assert.Equal(3, p.Value("prefork_worker_connections_open", ("worker", "1")));
        Assert.Equal(19, p.Value("prefork_connections_accepted_total", ("worker", "2")));
        Assert.Equal(1, p.Value("prefork_worker_restarts_total", ("cause", "crash")));
        Assert.Equal(0, p.Value("prefork_worker_restarts_total", ("cause", "scale_down")));
        Assert.Equal(2, p.Value("prefork_workers_alive"));
        Assert.Equal(12.5, p.Value("prefork_uptime_seconds"));
        Assert.Equal("histogram", p.Types["prefork_request_duration_seconds"]);
        Assert.Equal("counter", p.Types["prefork_requests_total"]);
        Assert.Equal("gauge", p.Types["prefork_workers_alive"]);
    }

    [Fact]
    public void An_empty_server_still_renders_valid_families()
    {
        var p = PrometheusParser.Parse(PrometheusText.Render(new MetricsSnapshot(new WorkerCounters(),
            new Dictionary<int, long>(), new Dictionary<int, long>(), new Dictionary<string, long>(), 0, TimeSpan.Zero)));
        Assert.Equal(0, p.Value("prefork_requests_total", ("method", "GET"), ("status", "2xx")));
        Assert.Equal(0, p.Value("prefork_request_duration_seconds_count"));
        // Without TLS there is no certificate, and no series for one.
        Assert.DoesNotContain(p.Samples, s => s.Name.StartsWith("prefork_tls_", StringComparison.Ordinal));
    }

    [Fact]
    public void The_certificate_end_is_a_gauge_in_unix_seconds()
    {
        var p = PrometheusParser.Parse(PrometheusText.Render(Sample() with { CertificateNotAfter = new DateTime(2027, 1, 2, 3, 4, 5, DateTimeKind.Utc) }));
        Assert.Equal(1798859045, p.Value("prefork_tls_certificate_expiry_timestamp_seconds"));
        Assert.Equal("gauge", p.Types["prefork_tls_certificate_expiry_timestamp_seconds"]);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a\"b", "a\\\"b")]
    [InlineData("back\\slash", "back\\\\slash")]
    [InlineData("two\nlines", "two\\nlines")]
    public void Label_values_are_escaped_and_parse_back(string value, string escaped)
    {
        Assert.Equal(escaped, PrometheusText.EscapeLabel(value));
        var p = PrometheusParser.Parse($"# HELP x_total X.\n# TYPE x_total counter\nx_total{{v=\"{escaped}\"}} 1\n");
        Assert.Equal(value, p.Samples.Single().Labels["v"]);
    }

    [Theory]
    [InlineData("x_total 1\n")]                                                              // no TYPE
    [InlineData("# TYPE x_total counter\nx_total 1\n")]                                       // no HELP
    [InlineData("# HELP x_total X.\n# TYPE x_total counter\nx_total{v=\"a\\tb\"} 1\n")]       // bad escape
    [InlineData("# HELP x_total X.\n# TYPE x_total counter\nx_total one\n")]                  // bad value
    [InlineData("# HELP h X.\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n")] // decreasing
    [InlineData("# HELP h X.\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 4\n")] // +Inf != count
    public void The_test_parser_rejects_broken_expositions(string text)
    {
        Assert.Throws<FormatException>(() => PrometheusParser.Parse(text));
    }
}
