using System.Diagnostics.Metrics;

namespace Prefork.Master;

/// <summary>
/// The master's metrics: the <see cref="MetricsView"/> the Arbiter last published (a volatile reference, so
/// no lock is shared with its loop), read by /metrics, /status, SIGWINCH and the .NET meter Prefork.Master.
/// </summary>
public sealed class MasterMetrics : IDisposable
{
    public const string MeterName = "Prefork.Master";

    private readonly Func<long> _clock;
    private readonly long _started;
    private readonly Meter _meter;
    private volatile MetricsView _view = MetricsView.Empty;
    private volatile bool _serving;
    // Unix seconds, 0 for none: a long, so a scrape never reads half of a date the loop is writing.
    private long _certificateExpiry;

    /// <summary><paramref name="clock"/>: milliseconds, <see cref="Environment.TickCount64"/> unless a test says otherwise.</summary>
    public MasterMetrics(Func<long>? clock = null)
    {
        _clock = clock ?? (() => Environment.TickCount64);
        _started = _clock();
        _meter = new Meter(MeterName);
        _meter.CreateObservableCounter("prefork.worker.restarts", ObserveRestarts, "{restart}", "Workers replaced or retired, by cause");
        _meter.CreateObservableGauge("prefork.workers.alive", () => _view.Workers.Count, "{worker}", "Worker processes alive");
        _meter.CreateObservableGauge("prefork.uptime", () => Uptime.TotalSeconds, "s", "Seconds since the master started");
    }

    /// <summary>Set by the Arbiter's loop after each event; read from any thread.</summary>
    public MetricsView View
    {
        get => _view;
        set => _view = value;
    }

    /// <summary>What /healthz answers: the server takes new work (a worker is ready, no stop or lame duck has begun). Set by the Arbiter's loop.</summary>
    public bool Serving
    {
        get => _serving;
        set => _serving = value;
    }

    /// <summary>When the certificate the workers serve expires (UTC); null without TLS. Set by the Arbiter's loop at start and on each reload.</summary>
    public DateTime? CertificateNotAfter
    {
        get => Volatile.Read(ref _certificateExpiry) is var seconds and not 0 ? DateTime.UnixEpoch.AddSeconds(seconds) : null;
        set => Volatile.Write(ref _certificateExpiry, value is { } date ? (long)(date - DateTime.UnixEpoch).TotalSeconds : 0);
    }

    public TimeSpan Uptime => TimeSpan.FromMilliseconds(_clock() - _started);

    public MetricsSnapshot Snapshot() => _view.Snapshot(Uptime) with { CertificateNotAfter = CertificateNotAfter };

    public IReadOnlyList<WorkerStatus> Status() => _view.Status(_clock());

    private IEnumerable<Measurement<long>> ObserveRestarts() =>
        _view.Retired.Restarts.Select(r => new Measurement<long>(r.Value, new KeyValuePair<string, object?>("cause", r.Key)));

    public void Dispose() => _meter.Dispose();
}
