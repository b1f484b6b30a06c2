using System.Diagnostics;

namespace Prefork.Serving;

/// <summary>
/// Gives the GC's spare memory back to the OS once a worker goes quiet after a burst. A flood of connections
/// leaves the workstation GC with regions committed beyond what the connections use: its gen0 budget, grown
/// because so much of what it allocates survives, and what was allocated since its last collection. A worker
/// that then sits idle allocates almost nothing, so no collection runs that would decommit them: 10,000 idle
/// keep-alive connections on two workers cost 2,100 bytes each in RSS, 940 once trimmed (bench.sh --only
/// hold). One aggressive collection, taken once the burst is over, returns that space; it costs milliseconds
/// (about 15 for a worker holding 5,000 connections), taken when there is nothing to serve.
/// </summary>
public sealed class IdleTrim
{
    // Two full seconds with nothing accepted and nothing served: a burst that paused for breath is not over.
    private const int QuietTicks = 2;
    // Less than this allocated since the last trim cannot have committed enough to be worth a full collection.
    // An idle worker's tick allocates about 3 KB a second (its report): a worker that serves a request now and
    // then trims every five minutes or so, one that serves nothing never again.
    private const long WorthTrimming = 1 << 20;

    // A worker that has accepted nothing yet has nothing to give back: what its boot allocated it keeps.
    private long _activity, _activityAtTrim;
    private long _allocatedAtTrim;
    private int _quietTicks;

    /// <summary>
    /// Called by the worker's tick with a count that grows with every connection accepted and every request
    /// answered, and whether a request is under way (a long download changes no count, and must not pause):
    /// trims after <see cref="QuietTicks"/> ticks without change and without a request, once per quiet spell.
    /// </summary>
    public void Tick(long activity, bool inRequest)
    {
        if (activity != _activity || inRequest)
        {
            _activity = activity;
            _quietTicks = 0;
            return;
        }
        if (++_quietTicks < QuietTicks || activity == _activityAtTrim) return;
        if (GC.GetTotalAllocatedBytes() - _allocatedAtTrim < WorthTrimming) return;
        _activityAtTrim = activity;
        Trim();
    }

    private void Trim()
    {
        long started = Stopwatch.GetTimestamp();
        // Aggressive: a blocking, compacting full collection that also decommits every free region and resets
        // the generation budgets, rather than keeping them for allocations that are not coming.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var elapsed = Stopwatch.GetElapsedTime(started);
        _allocatedAtTrim = GC.GetTotalAllocatedBytes();
        // What the GC reports is as of its last collection: this one.
        var after = GC.GetGCMemoryInfo();
        Log.Debug($"Idle trim: {elapsed.TotalMilliseconds:0.0} ms; the GC now holds {after.TotalCommittedBytes / 1024} KiB " +
                  $"for {after.HeapSizeBytes / 1024} KiB live");
    }
}
