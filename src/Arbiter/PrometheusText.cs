using System.Globalization;
using System.Text;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// Renders a <see cref="MetricsSnapshot"/> in the Prometheus text exposition format, version 0.0.4: for each
/// family a # HELP and a # TYPE line, then its samples; histograms as cumulative _bucket{le} series ending
/// in +Inf, then _sum and _count.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(MetricsSnapshot m)
    {
        var s = new StringBuilder(4096);
        var t = m.Total;
        int classes = WorkerCounters.StatusClasses.Length;

        Family(s, "prefork_requests_total", "counter", "Requests answered by all workers, by method and status class.");
        for (int i = 0; i < t.Requests.Length; i++)
        {
            // Methods no request used are left out; GET 2xx is always there, so the family is never empty.
            if (t.Requests[i] == 0 && i != 1 * classes + 1) continue;
            Sample(s, "prefork_requests_total", [("method", WorkerCounters.Methods[i / classes]), ("status", WorkerCounters.StatusClasses[i % classes])], t.Requests[i]);
        }

        Family(s, "prefork_request_duration_seconds", "histogram", "Time from a parsed request head to its queued response.");
        long cumulative = 0;
        for (int i = 0; i < t.DurationBuckets.Length; i++)
        {
            cumulative += t.DurationBuckets[i];
            var le = i < WorkerCounters.DurationBounds.Length ? Number(WorkerCounters.DurationBounds[i]) : "+Inf";
            Sample(s, "prefork_request_duration_seconds_bucket", [("le", le)], cumulative);
        }
        Sample(s, "prefork_request_duration_seconds_sum", [], Number(t.DurationMicroseconds / 1e6));
        Sample(s, "prefork_request_duration_seconds_count", [], cumulative);

        Family(s, "prefork_request_bytes_total", "counter", "Request bytes received: heads and bodies.");
        Sample(s, "prefork_request_bytes_total", [], t.BytesIn);
        Family(s, "prefork_response_bytes_total", "counter", "Response body bytes sent.");
        Sample(s, "prefork_response_bytes_total", [], t.BytesOut);

        Family(s, "prefork_client_errors_total", "counter", "Connections the client's side ended badly (reset, broken pipe, timeout, other, failed TLS handshake, refused PROXY header), by kind.");
        for (int i = 0; i < t.ClientErrors.Length; i++) Sample(s, "prefork_client_errors_total", [("kind", WorkerCounters.ClientErrorKinds[i])], t.ClientErrors[i]);

        Family(s, "prefork_connections_open", "gauge", "Open client connections, all workers.");
        Sample(s, "prefork_connections_open", [], m.OpenByWorker.Values.Sum());
        Family(s, "prefork_worker_connections_open", "gauge", "Open client connections, by worker number.");
        foreach (var (worker, open) in m.OpenByWorker) Sample(s, "prefork_worker_connections_open", [("worker", Int(worker))], open);
        Family(s, "prefork_connections_accepted_total", "counter", "Connections accepted, by worker number (a slot keeps its number across restarts).");
        foreach (var (worker, accepted) in m.AcceptedByWorker) Sample(s, "prefork_connections_accepted_total", [("worker", Int(worker))], accepted);

        Family(s, "prefork_worker_restarts_total", "counter", "Workers replaced or retired, by cause.");
        foreach (var cause in RestartCause.All) Sample(s, "prefork_worker_restarts_total", [("cause", cause)], m.Restarts.GetValueOrDefault(cause));
        Family(s, "prefork_workers_alive", "gauge", "Worker processes alive.");
        Sample(s, "prefork_workers_alive", [], m.WorkersAlive);
        Family(s, "prefork_uptime_seconds", "gauge", "Seconds since the master started.");
        Sample(s, "prefork_uptime_seconds", [], Number(Math.Round(m.Uptime.TotalSeconds, 3)));
        if (m.CertificateNotAfter is { } notAfter)
        {
            Family(s, "prefork_tls_certificate_expiry_timestamp_seconds", "gauge", "When the --certfile certificate the workers serve expires (its notAfter), in Unix seconds.");
            Sample(s, "prefork_tls_certificate_expiry_timestamp_seconds", [], (long)(notAfter - DateTime.UnixEpoch).TotalSeconds);
        }
        return s.ToString();
    }

    private static void Family(StringBuilder s, string name, string type, string help) =>
        s.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n')
         .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder s, string name, (string Name, string Value)[] labels, long value) =>
        Sample(s, name, labels, Int(value));

    private static void Sample(StringBuilder s, string name, (string Name, string Value)[] labels, string value)
    {
        s.Append(name);
        if (labels.Length > 0)
        {
            s.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                if (i > 0) s.Append(',');
                s.Append(labels[i].Name).Append("=\"").Append(EscapeLabel(labels[i].Value)).Append('"');
            }
            s.Append('}');
        }
        s.Append(' ').Append(value).Append('\n');
    }

    /// <summary>Label values escape backslash, double quote and line feed (the format's only three).</summary>
    public static string EscapeLabel(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string EscapeHelp(string help) => help.Replace("\\", "\\\\").Replace("\n", "\\n");

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
