using System.Runtime.InteropServices;
using System.Threading.Channels;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// The master's loop, after gunicorn's arbiter: it alone owns the worker table and reads each worker's lines.
/// Signals, worker reports and worker exits arrive as events on one queue; the loop takes them one at a time
/// and, after each, brings the table back to what it should be (kill the hung and the late, spawn the
/// missing, retire the surplus and the old generation) and publishes it for the metrics to read.
/// </summary>
public sealed partial class Arbiter
{
    private readonly MasterConfig _config;
    private readonly Listeners _listeners;
    private readonly PidFile? _pidFile;
    private List<PosixSignalRegistration>? _signals;
    private readonly IWorkerSpawner _spawner;
    private readonly Func<long> _clock;
    private readonly Dictionary<IWorkerChild, WorkerProcess> _workers = new();
    private readonly Channel<ArbiterEvent> _events = Channel.CreateUnbounded<ArbiterEvent>();
    private readonly BinaryUpgrade _upgrade;

    private RetiredTotals _retired = RetiredTotals.None;
    private int _target;
    private int _generation;
    private int _bootFailures;
    private long _nextSpawnAt;
    private bool _stopping;
    // When SIGTERM's --shutdown-delay ends (milliseconds on the clock); 0: not a lame duck.
    private long _lameDuckUntil;
    private int _exitCode;

    /// <summary>
    /// <paramref name="spawner"/>: how workers start (<see cref="ProcessSpawner"/> unless a test says otherwise);
    /// <paramref name="clock"/>: milliseconds (<see cref="Environment.TickCount64"/> unless a test says otherwise).
    /// </summary>
    public Arbiter(MasterConfig config, Listeners listeners, PidFile? pidFile, IWorkerSpawner? spawner = null, Func<long>? clock = null)
    {
        _config = config;
        _listeners = listeners;
        _pidFile = pidFile;
        _spawner = spawner ?? new ProcessSpawner();
        _clock = clock ?? (() => Environment.TickCount64);
        _target = config.Workers;
        _upgrade = new BinaryUpgrade(listeners, pidFile, _events.Writer);
    }

    /// <summary>Where the loop publishes the table after each event, for /metrics, /status and the meter.</summary>
    public required MasterMetrics Metrics { get; init; }

    // Those that count towards the target: of the current generation, neither stopping nor past their --max-requests.
    private IEnumerable<WorkerProcess> Active => _workers.Values.Where(w => w.Generation == _generation && !w.Stopping && !w.Retiring);

    private bool Done => _stopping && _workers.Count == 0;

    /// <summary>
    /// Catches the signals the loop handles, from now on: those that come before <see cref="RunAsync"/> wait for its
    /// first turn. Handlers only post the signal; the loop decides what it means. Cancel keeps the runtime's default
    /// action (exit) from happening.
    /// </summary>
    public void CatchSignals() =>
        _signals ??= HandledSignals
            .Select(s => PosixSignalRegistration.Create(s, c => { c.Cancel = true; _events.Writer.TryWrite(new SignalReceived(c.Signal)); }))
            .ToList();

    public async Task<int> RunAsync()
    {
        CatchSignals();
        if (_config.CertificateNotAfter is { } notAfter) NoteCertificate(notAfter);
        // The first turn is a deadline: the first workers are due at once.
        while (!Done) Turn(await NextEventAsync());

        _signals!.ForEach(s => s.Dispose());
        Log.Info(_exitCode == 0 ? "Shutting down: master" : $"Shutting down: master (exit code {_exitCode})");
        return _exitCode;
    }

    /// <summary>One turn of the loop: the event (null: a deadline came), then the table brought back in line and published.</summary>
    private void Turn(ArbiterEvent? e)
    {
        switch (e)
        {
            case SignalReceived s: HandleSignal(s.Signal); break;
            case WorkerMessage m: HandleMessage(m.Worker, m.Line); break;
            case WorkerExited x: ReapWorker(x.Worker, x.ExitCode); break;
            case UpgradeExited u: _upgrade.Exited(u.ExitCode); break;
        }
        EndLameDuck();
        MurderWorkers();
        ManageWorkers();
        Metrics.View = MetricsView.Of(_workers.Values, _retired);
        // The server takes new work once a worker is ready, until a stop (or its lame duck) begins.
        Metrics.Serving = !_stopping && _lameDuckUntil == 0 && _workers.Values.Any(w => w.Ready && !w.Stopping);
    }

    /// <summary>The certificate the workers (about to) serve: its end is logged when near or past, and published as a gauge.</summary>
    private void NoteCertificate(DateTime notAfter)
    {
        Metrics.CertificateNotAfter = notAfter;
        if (CertificateExpiry.Note(_config.WorkerTemplate.Tls!.CertFile, notAfter, DateTime.UtcNow) is { } note) Log.Write(note.Level, note.Message);
    }

    /// <summary>For tests: queues an event as a signal handler, a worker's pipe or a process exit would.</summary>
    internal void Post(ArbiterEvent e) => _events.Writer.TryWrite(e);

    /// <summary>
    /// For tests, with a clock they move: takes every queued event and every deadline due by now, as
    /// <see cref="RunAsync"/> would, but never waits. The exit code once the master is done, else null.
    /// </summary>
    internal int? RunUntilIdle()
    {
        while (!Done && TryTakeNow(out var e)) Turn(e);
        return Done ? _exitCode : null;
    }

    /// <summary>
    /// The next event, or null once the nearest deadline has come (unicorn's next_sleep): the loop sleeps until
    /// something happens or something is due, never on a fixed tick.
    /// </summary>
    private async ValueTask<ArbiterEvent?> NextEventAsync()
    {
        if (TryTakeNow(out var ready)) return ready;
        long wait = NextDeadline() - _clock();
        using var due = new CancellationTokenSource(TimeSpan.FromMilliseconds(Math.Clamp(wait, 1, int.MaxValue)));
        try
        {
            if (await _events.Reader.WaitToReadAsync(due.Token) && _events.Reader.TryRead(out var e)) return e;
        }
        catch (OperationCanceledException)
        {
        }
        return null;
    }

    /// <summary>What the loop may take without waiting: a queued event, or (null) a deadline already due.</summary>
    private bool TryTakeNow(out ArbiterEvent? e)
    {
        if (_events.Reader.TryRead(out e)) return true;
        return NextDeadline() <= _clock();
    }

    /// <summary>When the loop must act even if nothing happens: a heartbeat missed, a graceful deadline, a spawn after back-off.</summary>
    private long NextDeadline()
    {
        long next = long.MaxValue;
        foreach (var worker in _workers.Values.Where(w => !w.Killed))
        {
            next = Math.Min(next, worker.LastSeen + (long)_config.Timeout.TotalMilliseconds + 1);
            if (worker.Stopping) next = Math.Min(next, worker.StopDeadline + 1);
        }
        if (!_stopping && Active.Count() < _target) next = Math.Min(next, _nextSpawnAt);
        if (!_stopping && _lameDuckUntil != 0) next = Math.Min(next, _lameDuckUntil);
        return next;
    }
}
