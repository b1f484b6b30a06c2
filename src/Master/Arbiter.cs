using System.Runtime.InteropServices;
using System.Threading.Channels;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// The master's loop, after gunicorn's arbiter: it alone owns the worker table. Signals, worker reports and
/// worker exits arrive as events on one queue; the loop takes them one at a time and, after each, brings
/// the table back to what it should be: kill the hung and the late, spawn the missing, retire the surplus
/// and the old generation.
/// </summary>
public sealed class Arbiter
{
    private const int MaxBootFailures = 5;
    // USR1 and USR2 have no PosixSignal name; Linux numbers work with PosixSignalRegistration.
    private const PosixSignal SIGUSR1 = (PosixSignal)Native.SIGUSR1, SIGUSR2 = (PosixSignal)Native.SIGUSR2;
    private const PosixSignal SIGWINCH = PosixSignal.SIGWINCH;

    private readonly MasterConfig _config;
    private readonly Listeners _listeners;
    private readonly PidFile? _pidFile;
    private readonly Dictionary<int, WorkerProcess> _workers = new();
    private readonly Channel<ArbiterEvent> _events = Channel.CreateUnbounded<ArbiterEvent>();
    private readonly BinaryUpgrade _upgrade;

    private int _target;
    private int _generation;
    private int _bootFailures;
    private long _nextSpawnAt;
    private bool _stopping;
    private int _exitCode;

    public Arbiter(MasterConfig config, Listeners listeners, PidFile? pidFile)
    {
        _config = config;
        _listeners = listeners;
        _pidFile = pidFile;
        _target = config.Workers;
        _upgrade = new BinaryUpgrade(listeners, pidFile, _events.Writer);
    }

    /// <summary>Every worker's counters and status rows (see MetricsRegistry); fed from this loop only.</summary>
    public MetricsRegistry Metrics { get; init; } = new();

    private IEnumerable<WorkerProcess> Active => _workers.Values.Where(w => w.Generation == _generation && !w.Stopping);

    public async Task<int> RunAsync()
    {
        // Handlers only post the signal; the loop decides what it means. Cancel keeps the runtime's default
        // action (exit) from happening.
        var signals = new[]
            {
                PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP,
                PosixSignal.SIGTTIN, PosixSignal.SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH,
            }
            .Select(s => PosixSignalRegistration.Create(s, c => { c.Cancel = true; _events.Writer.TryWrite(new SignalReceived(c.Signal)); }))
            .ToList();

        ManageWorkers();
        while (!(_stopping && _workers.Count == 0))
        {
            switch (await NextEventAsync())
            {
                case SignalReceived s: HandleSignal(s.Signal); break;
                case WorkerMessage m: HandleMessage(m.Worker, m.Line); break;
                case WorkerExited x: ReapWorker(x.Worker, x.ExitCode); break;
                case UpgradeExited u: _upgrade.Exited(u.ExitCode); break;
            }
            MurderWorkers();
            ManageWorkers();
        }

        signals.ForEach(s => s.Dispose());
        Log.Info(_exitCode == 0 ? "Shutting down: master" : $"Shutting down: master (exit code {_exitCode})");
        return _exitCode;
    }

    /// <summary>
    /// The next event, or null once the nearest deadline has come (unicorn's next_sleep): the loop sleeps until
    /// something happens or something is due, never on a fixed tick.
    /// </summary>
    private async ValueTask<ArbiterEvent?> NextEventAsync()
    {
        if (_events.Reader.TryRead(out var ready)) return ready;
        long wait = NextDeadline() - Environment.TickCount64;
        if (wait <= 0) return null;
        using var due = new CancellationTokenSource(TimeSpan.FromMilliseconds(Math.Min(wait, int.MaxValue)));
        try
        {
            if (await _events.Reader.WaitToReadAsync(due.Token) && _events.Reader.TryRead(out var e)) return e;
        }
        catch (OperationCanceledException)
        {
        }
        return null;
    }

    /// <summary>When the loop must act even if nothing happens: a heartbeat missed, a graceful deadline, a spawn after back-off.</summary>
    private long NextDeadline()
    {
        long next = long.MaxValue;
        foreach (var worker in _workers.Values.Where(w => !w.Killed))
        {
            next = Math.Min(next, worker.LastHeartbeat + (long)_config.Timeout.TotalMilliseconds + 1);
            if (worker.Stopping) next = Math.Min(next, worker.StopDeadline + 1);
        }
        if (!_stopping && Active.Count() < _target) next = Math.Min(next, _nextSpawnAt);
        return next;
    }

    private void HandleSignal(PosixSignal signal)
    {
        switch (signal)
        {
            case PosixSignal.SIGINT when _stopping: HandleSecondInt(); break;
            case PosixSignal.SIGTERM or PosixSignal.SIGINT or PosixSignal.SIGQUIT: HandleTerm(signal); break;
            case PosixSignal.SIGHUP: HandleHup(); break;
            case PosixSignal.SIGTTIN: HandleTtin(); break;
            case PosixSignal.SIGTTOU: HandleTtou(); break;
            case SIGUSR1: HandleUsr1(); break;
            case SIGUSR2: HandleUsr2(); break;
            case SIGWINCH: HandleWinch(); break;
        }
    }

    private void HandleTerm(PosixSignal signal)
    {
        Log.Info($"Handling signal: {Name(signal)}, graceful stop (up to {_config.GracefulTimeout.TotalSeconds:0}s)");
        Stop(0);
    }

    private void HandleSecondInt()
    {
        Log.Info("Handling signal: SIGINT again, stopping at once");
        foreach (var worker in _workers.Values) worker.Kill();
    }

    private void HandleTtin()
    {
        _target = Math.Min(Scoreboard.MaxSlots, _target + 1);
        Log.Info($"Handling signal: SIGTTIN, workers: {_target}");
    }

    private void HandleTtou()
    {
        _target = Math.Max(1, _target - 1);
        Log.Info($"Handling signal: SIGTTOU, workers: {_target}");
    }

    private void HandleUsr1()
    {
        Log.Info("Handling signal: SIGUSR1, reopening log files");
        Log.Reopen();
        foreach (var worker in _workers.Values) worker.Send(ControlChannel.Reopen);
    }

    private void HandleUsr2()
    {
        if (_stopping)
        {
            Log.Info("Handling signal: SIGUSR2 ignored: the server is stopping");
            return;
        }
        Log.Info("Handling signal: SIGUSR2, starting a new master from the binaries on disk");
        _upgrade.Start();
    }

    private void HandleWinch()
    {
        foreach (var line in StatusTable.Lines(Metrics.Status())) Log.Info($"Status: {line}");
    }

    /// <summary>
    /// Reload: a new generation of workers starts from the binaries on disk; once all of it is ready, the old
    /// generation is stopped gracefully (see <see cref="ManageWorkers"/>), so capacity never dips.
    /// </summary>
    private void HandleHup()
    {
        if (_stopping) return;
        _generation++;
        Log.Info($"Handling signal: SIGHUP, reloading: booting generation {_generation}");
    }

    private void HandleMessage(WorkerProcess worker, string line)
    {
        worker.LastHeartbeat = Environment.TickCount64;
        Metrics.Message(worker.Pid, line);
        if (line == ControlChannel.Ready)
        {
            worker.Ready = true;
            _bootFailures = 0;
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) ready");
            _upgrade.WorkerReady(allReady: Active.Count() >= _target && Active.All(w => w.Ready));
        }
        else if (line == ControlChannel.Retiring)
        {
            // The worker drains by itself; counting it as stopping lets its replacement start right away.
            worker.MarkStopping(_config.GracefulTimeout);
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) reached --max-requests; retiring");
        }
        else if (ControlChannel.TryParseHeartbeat(line, out long requests, out int connections))
        {
            worker.Requests = requests;
            worker.Connections = connections;
        }
    }

    /// <summary>A worker exited: forget it, say why, and count it against booting if it never got ready.</summary>
    private void ReapWorker(WorkerProcess worker, int exitCode)
    {
        if (!_workers.Remove(worker.Pid)) return;
        Metrics.Exited(worker.Pid, _stopping ? null : RestartCauseOf(worker));
        var how = exitCode > 128 ? $"was killed by signal {exitCode - 128}" : $"exited with code {exitCode}";
        if (_stopping || worker.Stopping)
        {
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) {how}");
            return;
        }
        if (exitCode == ControlChannel.BootErrorExitCode)
        {
            Log.Critical($"Worker {worker.Number} (pid {worker.Pid}) failed to boot; shutting down");
            Stop(ControlChannel.BootErrorExitCode);
            return;
        }
        if (!worker.Ready)
        {
            _bootFailures++;
            if (_bootFailures >= MaxBootFailures)
            {
                Log.Critical($"Workers failed to boot {_bootFailures} times in a row (last: pid {worker.Pid} {how}); giving up");
                Stop(ControlChannel.BootErrorExitCode);
                return;
            }
            var delay = TimeSpan.FromMilliseconds(100 << (_bootFailures - 1));
            _nextSpawnAt = Environment.TickCount64 + (long)delay.TotalMilliseconds;
            Log.Warning($"Worker {worker.Number} (pid {worker.Pid}) {how} before it was ready; retrying in {delay.TotalMilliseconds:0} ms");
            return;
        }
        Log.Warning($"Worker {worker.Number} (pid {worker.Pid}) {how}; replacing it");
    }

    /// <summary>Kills workers whose heartbeat stopped (--timeout) and stopping workers past their graceful deadline.</summary>
    private void MurderWorkers()
    {
        long now = Environment.TickCount64;
        foreach (var worker in _workers.Values.Where(w => !w.Killed))
        {
            if (now - worker.LastHeartbeat > (long)_config.Timeout.TotalMilliseconds)
            {
                Log.Critical($"WORKER TIMEOUT (pid {worker.Pid}): no heartbeat for {_config.Timeout.TotalSeconds:0}s; killing it");
                worker.Kill();
            }
            else if (worker.Stopping && now > worker.StopDeadline)
            {
                Log.Warning($"Worker {worker.Number} (pid {worker.Pid}) still running after the graceful timeout; killing it");
                worker.Kill();
            }
        }
    }

    /// <summary>
    /// Brings the table to the target: spawn the missing (unless backing off after boot failures), retire
    /// the surplus oldest first, and stop the old generation once the new one is all ready.
    /// </summary>
    private void ManageWorkers()
    {
        if (_stopping) return;
        while (Active.Count() < _target && Environment.TickCount64 >= _nextSpawnAt)
        {
            if (!Spawn()) return;
        }
        foreach (var surplus in Active.OrderBy(w => w.Started).Take(Active.Count() - _target).ToList())
        {
            Log.Info($"Retiring {surplus} (workers: {_target})");
            surplus.Stop(_config.GracefulTimeout, serverStopping: false);
        }
        if (Active.Count() == _target && Active.All(w => w.Ready))
        {
            foreach (var old in _workers.Values.Where(w => w.Generation != _generation && !w.Stopping))
            {
                Log.Info($"Stopping {old} of generation {old.Generation}");
                old.Stop(_config.GracefulTimeout, serverStopping: false);
            }
        }
    }

    private bool Spawn()
    {
        int number = Enumerable.Range(1, _target).First(n => Active.All(w => w.Number != n));
        var settings = _config.WorkerTemplate with { ListenFds = _listeners.Fds.ToArray(), Number = number };
        WorkerProcess worker;
        try
        {
            worker = WorkerProcess.Spawn(settings, _generation, _events.Writer);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Log.Critical($"Cannot start a worker process: {e.Message}");
            Stop(ControlChannel.BootErrorExitCode);
            return false;
        }
        _workers[worker.Pid] = worker;
        Metrics.Booted(worker.Pid, number, _generation);
        Log.Info($"Booting worker {number} with pid {worker.Pid}");
        return true;
    }

    private void Stop(int exitCode)
    {
        if (_stopping) return;
        _stopping = true;
        _exitCode = exitCode;
        foreach (var worker in _workers.Values) worker.Stop(_config.GracefulTimeout, serverStopping: true);
        // The workers take what is queued and then close their copies of the sockets; with this one closed too,
        // a client that comes after that is refused at once instead of waiting in a queue nobody serves.
        _listeners.Dispose();
    }

    /// <summary>
    /// Why a worker went: told to stop for a reload (old generation), a scale-down, or after announcing
    /// --max-requests; killed without being told to stop: only a heartbeat timeout does that; else it crashed.
    /// </summary>
    private string RestartCauseOf(WorkerProcess worker) =>
        worker.Stopping
            ? Metrics.IsRetiring(worker.Pid) ? RestartCause.MaxRequests
            : worker.Generation != _generation ? RestartCause.Reload
            : RestartCause.ScaleDown
        : worker.Killed ? RestartCause.Timeout
        : RestartCause.Crash;

    private static string Name(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGTERM => "SIGTERM",
        PosixSignal.SIGINT => "SIGINT",
        PosixSignal.SIGQUIT => "SIGQUIT",
        _ => signal.ToString(),
    };
}
