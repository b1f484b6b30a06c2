using Prefork.Control;

namespace Prefork.Master;

/// <summary>The Arbiter's table: what a worker's line or exit changes, and how the table is brought to its target.</summary>
public sealed partial class Arbiter
{
    private const int MaxBootFailures = 5;
    private const long MaxBootRetryDelayMs = 30_000;

    /// <summary>A line from a worker, parsed here and only here. Any line proves it alive; the report sent every second is its heartbeat.</summary>
    private void HandleMessage(IWorkerChild child, string line)
    {
        if (!_workers.TryGetValue(child, out var worker)) return;
        worker.LastSeen = _clock();
        if (line == ControlChannel.Ready)
        {
            worker.Ready = true;
            _bootFailures = 0;
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) ready");
            _upgrade.WorkerReady(allReady: Active.Count() >= _target && Active.All(w => w.Ready));
        }
        else if (line == ControlChannel.Retiring)
        {
            // No longer counted, so its replacement starts right away; it serves on until that one is ready
            // (ManageWorkers), as an old generation does on a reload.
            worker.Retiring = true;
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) reached --max-requests; retiring");
        }
        else if (WorkerCounters.TryParse(line, out var counters))
        {
            worker.Report(counters);
        }
    }

    /// <summary>
    /// A worker exited: its last report joins the retired totals, the restart is counted by cause, the log
    /// says why, and an exit before ready counts against booting.
    /// </summary>
    private void ReapWorker(IWorkerChild child, int exitCode)
    {
        if (!_workers.Remove(child, out var worker)) return;
        _listeners.Board?.Clear(worker.ScoreboardSlot);
        PublishSlotsInUse();
        _retired = _retired.With(worker.Number, worker.Last, _stopping ? null : RestartCauseOf(worker));
        var how = exitCode > 128 ? $"was killed by signal {exitCode - 128}" : $"exited with code {exitCode}";
        if (_stopping || worker.Stopping)
        {
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) {how}");
            return;
        }
        bool bootFailed = exitCode == ControlChannel.BootErrorExitCode || !worker.Ready;
        if (bootFailed && _workers.Values.Any(w => w.Ready && !w.Stopping))
        {
            // Others serve: a replacement that cannot boot now (a certificate caught half-renewed, an app file being
            // copied) must not take them down with it. It is retried, ever more slowly, as nginx keeps its workers
            // when a reload's configuration is broken.
            _bootFailures++;
            long wait = Math.Min(100L << Math.Min(_bootFailures - 1, 20), MaxBootRetryDelayMs);
            _nextSpawnAt = _clock() + wait;
            Log.Error($"Worker {worker.Number} (pid {worker.Pid}) failed to boot ({how}); the others serve on; retrying in {wait} ms");
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
            long delay = 100L << (_bootFailures - 1);
            _nextSpawnAt = _clock() + delay;
            Log.Warning($"Worker {worker.Number} (pid {worker.Pid}) {how} before it was ready; retrying in {delay} ms");
            return;
        }
        Log.Warning($"Worker {worker.Number} (pid {worker.Pid}) {how}; replacing it");
    }

    /// <summary>
    /// Why a worker went: told to stop for a reload (old generation), a scale-down, or after announcing
    /// --max-requests; killed without being told to stop: only a heartbeat timeout does that; else it crashed.
    /// </summary>
    private string RestartCauseOf(WorkerProcess worker) =>
        worker.Stopping
            ? worker.Retiring ? RestartCause.MaxRequests
            : worker.Generation != _generation ? RestartCause.Reload
            : RestartCause.ScaleDown
        : worker.Killed ? RestartCause.Timeout
        : RestartCause.Crash;

    /// <summary>Kills workers whose heartbeat stopped (--timeout) and stopping workers past their graceful deadline.</summary>
    private void MurderWorkers()
    {
        long now = _clock();
        foreach (var worker in _workers.Values.Where(w => !w.Killed))
        {
            if (now - worker.LastSeen > (long)_config.Timeout.TotalMilliseconds)
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
    /// the surplus oldest first, and stop the old generation and the workers past their --max-requests once
    /// their replacements are all ready.
    /// </summary>
    private void ManageWorkers()
    {
        if (_stopping) return;
        while (Active.Count() < _target && _clock() >= _nextSpawnAt)
        {
            if (!Spawn()) return;
        }
        foreach (var surplus in Active.OrderBy(w => w.Started).Take(Active.Count() - _target).ToList())
        {
            Log.Info($"Retiring {surplus} (workers: {_target})");
            surplus.Stop(_clock(), _config.GracefulTimeout, serverStopping: false);
        }
        if (Active.Count() == _target && Active.All(w => w.Ready))
        {
            foreach (var old in _workers.Values.Where(w => (w.Generation != _generation || w.Retiring) && !w.Stopping))
            {
                Log.Info(old.Retiring ? $"Stopping {old}, replaced after its --max-requests" : $"Stopping {old} of generation {old.Generation}");
                old.Stop(_clock(), _config.GracefulTimeout, serverStopping: false);
            }
        }
    }

    private bool Spawn()
    {
        int number = Enumerable.Range(1, _target).First(n => Active.All(w => w.Number != n));
        // Beyond Scoreboard.Slots live processes (draining generations piled up by a storm of reloads), slots are shared.
        int slot = Enumerable.Range(0, Scoreboard.Slots).FirstOrDefault(s => _workers.Values.All(w => w.ScoreboardSlot != s), number - 1);
        var settings = _config.WorkerTemplate with
        {
            ListenFds = _listeners.Fds.ToArray(), TlsListenFds = _listeners.TlsFds.ToArray(), Number = number, ScoreboardSlot = slot,
        };
        IWorkerChild child;
        try
        {
            child = _spawner.Start(settings, _events.Writer);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Log.Critical($"Cannot start a worker process: {e.Message}");
            Stop(ControlChannel.BootErrorExitCode);
            return false;
        }
        var worker = _workers[child] = new WorkerProcess(child, number, slot, _generation, _clock());
        PublishSlotsInUse();
        Log.Info($"Booting worker {number} with pid {child.Pid}");
        // A replacement booted during the shutdown delay tells the balancer the same as its siblings.
        if (_lameDuckUntil != 0) worker.Send(ControlChannel.Unready);
        return true;
    }

    private void PublishSlotsInUse() => _listeners.Board?.SlotsInUse = _workers.Count == 0 ? 0 : _workers.Values.Max(w => w.ScoreboardSlot) + 1;

    private void Stop(int exitCode)
    {
        if (_stopping) return;
        _stopping = true;
        _exitCode = exitCode;
        foreach (var worker in _workers.Values) worker.Stop(_clock(), _config.GracefulTimeout, serverStopping: true);
        // The workers take what is queued and then close their copies of the sockets; with this one closed too,
        // a client that comes after that is refused at once instead of waiting in a queue nobody serves.
        _listeners.Dispose();
    }
}
