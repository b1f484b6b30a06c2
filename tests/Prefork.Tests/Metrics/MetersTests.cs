using System.Diagnostics.Metrics;
using Prefork.App;
using Prefork.Master;
using Prefork.Serving;

namespace Prefork.Tests.Metrics;

/// <summary>The System.Diagnostics.Metrics side: what dotnet-counters sees through a MeterListener.</summary>
public class MetersTests
{
    [Fact]
    public void Worker_and_master_meters_publish_their_instruments()
    {
        var seen = new List<(string Meter, string Instrument, double Value, string Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name is WorkerMetrics.MeterName or MasterMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        void Record<T>(Instrument i, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? _) where T : struct
        {
            lock (seen) seen.Add((i.Meter.Name, i.Name, Convert.ToDouble(value), string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
        }
        listener.SetMeasurementEventCallback<long>(Record);
        listener.SetMeasurementEventCallback<int>(Record);
        listener.SetMeasurementEventCallback<double>(Record);
        listener.Start();

        using var worker = new WorkerMetrics(3, openConnections: () => 1);
        using var master = new MasterMetrics();
        worker.ConnectionOpened();
        worker.RequestDone(Method.Get, 200, 40, 13, System.Diagnostics.Stopwatch.GetTimestamp());
        master.View = MetricsView.Empty with { Retired = RetiredTotals.None.With(1, new Prefork.Control.WorkerCounters(), RestartCause.Timeout) };
        listener.RecordObservableInstruments();

        Assert.Contains(seen, s => s is { Meter: WorkerMetrics.MeterName, Instrument: "prefork.requests", Value: 1, Tags: "method=GET,status=2xx" });
        Assert.Contains(seen, s => s is { Instrument: "prefork.request.duration" } && s.Value >= 0);
        Assert.Contains(seen, s => s is { Instrument: "prefork.request.bytes", Value: 40 });
        Assert.Contains(seen, s => s is { Instrument: "prefork.response.bytes", Value: 13 });
        Assert.Contains(seen, s => s is { Instrument: "prefork.connections.open", Value: 1, Tags: "worker=3" });
        Assert.Contains(seen, s => s is { Instrument: "prefork.connections.accepted", Value: 1, Tags: "worker=3" });
        Assert.Contains(seen, s => s is { Meter: MasterMetrics.MeterName, Instrument: "prefork.worker.restarts", Value: 1, Tags: "cause=timeout" });
        Assert.Contains(seen, s => s is { Instrument: "prefork.workers.alive", Value: 0 });
        Assert.Contains(seen, s => s is { Instrument: "prefork.uptime" } && s.Value >= 0);
    }
}
