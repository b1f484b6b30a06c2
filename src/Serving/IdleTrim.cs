using System.Diagnostics;

namespace Prefork.Serving;

/// <summary>
/// Gives the GC's spare memory back to the OS once a worker goes quiet after a burst. During a flood of
/// connections nearly everything allocated survives, the workstation GC grows its gen0 budget to its cap,
/// and the regions it committed for it stay committed: about as much again as the connections themselves
/// hold. A worker that then sits idle allocates almost nothing, so no collection ever runs that would
/// decommit them, and 10,000 idle keep-alive connections cost twice the memory they use. One aggressive
/// collection, taken once the burst is over, returns that space; it costs milliseconds, taken when there is
/// nothing to serve.
/// </summary>
public sealed class IdleTrim
{
    // Two full seconds with nothing accepted and nothing served: a burst that paused for breath is not over.
    private const int QuietTicks = 2;
    // Less than this allocated since the last trim cannot have committed enough to be worth a full collection
    // (the tick's own report, a few hundred bytes a second, takes an hour to get there).
    private const long WorthTrimming = 1 << 20;

    // A worker that has accepted nothing yet has nothing to give back: what its boot allocated it keeps.
    private long _activity, _activityAtTrim;
    private long _allocatedAtTrim;
    private int _quietTicks;

    /// <summary>
    /// Called by the worker's tick with a count that grows with every connection accepted and every request
    /// answered: trims after <see cref="QuietTicks"/> ticks without change, once per quiet spell.
    /// </summary>
    public void Tick(long activity)
    {
        if (activity != _activity)
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
        long committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
        long started = Stopwatch.GetTimestamp();
        // Aggressive: a blocking, compacting full collection that also decommits every free region and resets
        // the generation budgets, rather than keeping them for allocations that are not coming.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var elapsed = Stopwatch.GetElapsedTime(started);
        _allocatedAtTrim = GC.GetTotalAllocatedBytes();
        var after = GC.GetGCMemoryInfo();
        Log.Debug($"Idle trim: {elapsed.TotalMilliseconds:0.0} ms, GC committed {committed / 1024} -> {after.TotalCommittedBytes / 1024} KiB " +
                  $"({after.HeapSizeBytes / 1024} KiB live)");
    }
}
