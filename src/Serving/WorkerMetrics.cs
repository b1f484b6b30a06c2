using System.Diagnostics;
using System.Diagnostics.Metrics;
using Prefork.App;
using Prefork.Control;
using Prefork.Http;

namespace Prefork.Serving;

/// <summary>
/// This worker's request counters. The hot path is a handful of interlocked adds on arrays allocated once:
/// no lock and no allocation per request. Once a second (and before a graceful exit) <see cref="Snapshot"/>
/// goes to the master, which sums every worker. The same numbers are published as the .NET meter
/// "Prefork.Worker", so `dotnet-counters monitor -p PID --counters Prefork.Worker` shows them; its
/// observable instruments read these arrays only when a listener asks.
/// </summary>
public sealed class WorkerMetrics : IDisposable
{
    public const string MeterName = "Prefork.Worker";

    private static readonly int StatusCount = WorkerCounters.StatusClasses.Length;
    private static readonly long[] BoundTicks =
        WorkerCounters.DurationBounds.Select(s => (long)(s * Stopwatch.Frequency)).ToArray();

    private readonly long[] _requests = new long[WorkerCounters.Methods.Length * StatusCount];
    private readonly long[] _buckets = new long[WorkerCounters.DurationBounds.Length + 1];
    private readonly long[] _clientErrors = new long[WorkerCounters.ClientErrorKinds.Length];
    private long _durationMicroseconds, _bytesIn, _bytesOut, _accepted;
    // The server's own count, which decides when it is full: the metrics read it rather than keep a second one.
    private readonly Func<long> _openConnections;

    private readonly Meter _meter;
    private readonly Histogram<double> _duration;

    public WorkerMetrics(int workerNumber, Func<long> openConnections)
    {
        _openConnections = openConnections;
        _meter = new Meter(MeterName);
        var worker = new KeyValuePair<string, object?>("worker", workerNumber);
        _meter.CreateObservableCounter("prefork.requests", ObserveRequests, "{request}", "Requests served, by method and status class");
        _duration = _meter.CreateHistogram<double>("prefork.request.duration", "s", "Time from a parsed request head to its queued response");
        _meter.CreateObservableCounter("prefork.request.bytes", () => Interlocked.Read(ref _bytesIn), "By", "Request bytes received (head and body)");
        _meter.CreateObservableCounter("prefork.response.bytes", () => Interlocked.Read(ref _bytesOut), "By", "Response body bytes sent");
        _meter.CreateObservableUpDownCounter("prefork.connections.open", () => new Measurement<long>(_openConnections(), worker), "{connection}", "Open connections");
        _meter.CreateObservableCounter("prefork.client.errors", ObserveClientErrors, "{connection}", "Connections the client ended badly: reset, broken pipe, timeout, other, failed TLS handshake, refused PROXY header");
        _meter.CreateObservableCounter("prefork.connections.accepted", () => new Measurement<long>(Interlocked.Read(ref _accepted), worker), "{connection}", "Connections accepted");
    }

    public void ConnectionOpened() => Interlocked.Increment(ref _accepted);

    public void ClientFailed(ClientError kind) => Interlocked.Increment(ref _clientErrors[(int)kind]);

    /// <summary>One request answered; <paramref name="started"/> is its <see cref="Stopwatch.GetTimestamp"/> (0: no duration, as for a refused request).</summary>
    public void RequestDone(Method method, int status, long bytesIn, long bytesOut, long started)
    {
        Interlocked.Increment(ref _requests[(int)method * StatusCount + WorkerCounters.StatusClassIndex(status)]);
        Interlocked.Add(ref _bytesIn, bytesIn);
        Interlocked.Add(ref _bytesOut, bytesOut);
        if (started == 0) return;
        long elapsed = Stopwatch.GetTimestamp() - started;
        int bucket = 0;
        while (bucket < BoundTicks.Length && elapsed > BoundTicks[bucket]) bucket++;
        Interlocked.Increment(ref _buckets[bucket]);
        Interlocked.Add(ref _durationMicroseconds, elapsed * 1_000_000 / Stopwatch.Frequency);
        // A no-op unless a listener (dotnet-counters) is attached.
        if (_duration.Enabled) _duration.Record((double)elapsed / Stopwatch.Frequency);
    }

    /// <summary>The cumulative counts so far; each value is read atomically (the set is not one instant, nor needs to be).</summary>
    public WorkerCounters Snapshot()
    {
        var c = new WorkerCounters
        {
            Accepted = Interlocked.Read(ref _accepted),
            OpenConnections = _openConnections(),
            BytesIn = Interlocked.Read(ref _bytesIn),
            BytesOut = Interlocked.Read(ref _bytesOut),
            DurationMicroseconds = Interlocked.Read(ref _durationMicroseconds),
        };
        for (int i = 0; i < _requests.Length; i++) c.Requests[i] = Interlocked.Read(ref _requests[i]);
        for (int i = 0; i < _buckets.Length; i++) c.DurationBuckets[i] = Interlocked.Read(ref _buckets[i]);
        for (int i = 0; i < _clientErrors.Length; i++) c.ClientErrors[i] = Interlocked.Read(ref _clientErrors[i]);
        return c;
    }

    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        for (int i = 0; i < _requests.Length; i++)
        {
            long value = Interlocked.Read(ref _requests[i]);
            if (value == 0) continue;
            yield return new Measurement<long>(value,
                new KeyValuePair<string, object?>("method", WorkerCounters.Methods[i / StatusCount]),
                new KeyValuePair<string, object?>("status", WorkerCounters.StatusClasses[i % StatusCount]));
        }
    }

    private IEnumerable<Measurement<long>> ObserveClientErrors()
    {
        for (int i = 0; i < _clientErrors.Length; i++)
        {
            yield return new Measurement<long>(Interlocked.Read(ref _clientErrors[i]),
                new KeyValuePair<string, object?>("kind", WorkerCounters.ClientErrorKinds[i]));
        }
    }

    public void Dispose() => _meter.Dispose();
}
