using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Prefork.Master;

/// <summary>
/// The master's loop, after gunicorn's arbiter: it alone owns the worker table. Signals, worker reports and
/// worker exits arrive as events on one queue; the loop takes them one at a time and, after each, brings
/// the table back to what it should be (kill the late, spawn the missing).
/// </summary>
public sealed class Arbiter
{
    private const int MaxBootFailures = 5;
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    private readonly MasterConfig _config;
    private readonly IReadOnlyList<int> _listenFds;
    private readonly Dictionary<int, WorkerProcess> _workers = new();
    private readonly Channel<ArbiterEvent> _events = Channel.CreateUnbounded<ArbiterEvent>();

    private int _bootFailures;
    private long _nextSpawnAt;
    private bool _stopping;
    private long _stopDeadline;
    private int _exitCode;

    public Arbiter(MasterConfig config, IReadOnlyList<int> listenFds)
    {
        _config = config;
        _listenFds = listenFds;
    }

    public async Task<int> RunAsync()
    {
        // Handlers only post the signal; the loop decides what it means. Cancel keeps the runtime from exiting.
        var signals = new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT }
            .Select(s => PosixSignalRegistration.Create(s, c => { c.Cancel = true; _events.Writer.TryWrite(new SignalReceived(c.Signal)); }))
            .ToList();
        using var ticker = new Timer(_ => _events.Writer.TryWrite(Tick.Instance), null, TickInterval, TickInterval);

        ManageWorkers();
        await foreach (var e in _events.Reader.ReadAllAsync())
        {
            switch (e)
            {
                case SignalReceived s: HandleSignal(s.Signal); break;
                case WorkerMessage m: HandleMessage(m.Worker, m.Line); break;
                case WorkerExited x: ReapWorker(x.Worker, x.ExitCode); break;
            }
            MurderWorkers();
            ManageWorkers();
            if (_stopping && _workers.Count == 0) break;
        }

        signals.ForEach(s => s.Dispose());
        Log.Info(_exitCode == 0 ? "Shutting down: master" : $"Shutting down: master (exit code {_exitCode})");
        return _exitCode;
    }

    private void HandleSignal(PosixSignal signal)
    {
        switch (signal)
        {
            case PosixSignal.SIGINT when _stopping:
                // A second Ctrl-C: the user does not want to wait.
                Log.Info("Handling signal: SIGINT again, stopping at once");
                foreach (var worker in _workers.Values) worker.Kill();
                break;
            case PosixSignal.SIGTERM or PosixSignal.SIGINT or PosixSignal.SIGQUIT:
                Log.Info($"Handling signal: {signal}, graceful stop (up to {_config.GracefulTimeout.TotalSeconds:0}s)");
                Stop(0);
                break;
        }
    }

    private void HandleMessage(WorkerProcess worker, string line)
    {
        worker.LastHeartbeat = Environment.TickCount64;
        if (line == ControlChannel.Ready)
        {
            worker.Ready = true;
            _bootFailures = 0;
            Log.Info($"Worker {worker.Number} (pid {worker.Pid}) ready");
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

    /// <summary>Kills the workers that outlived the graceful deadline.</summary>
    private void MurderWorkers()
    {
        if (!_stopping || Environment.TickCount64 < _stopDeadline) return;
        foreach (var worker in _workers.Values.Where(w => !w.Killed))
        {
            Log.Warning($"Worker {worker.Number} (pid {worker.Pid}) still running after the graceful timeout; killing it");
            worker.Kill();
        }
    }

    /// <summary>Spawns workers until the table holds the target number, unless stopping or backing off after boot failures.</summary>
    private void ManageWorkers()
    {
        if (_stopping) return;
        while (_workers.Count < _config.Workers && Environment.TickCount64 >= _nextSpawnAt)
        {
            Spawn();
        }
    }

    private void Spawn()
    {
        int number = Enumerable.Range(1, _config.Workers).First(n => _workers.Values.All(w => w.Number != n));
        var settings = _config.WorkerTemplate with { ListenFds = _listenFds.ToArray(), Number = number };
        WorkerProcess worker;
        try
        {
            worker = WorkerProcess.Spawn(settings, _events.Writer);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Log.Critical($"Cannot start a worker process: {e.Message}");
            Stop(ControlChannel.BootErrorExitCode);
            return;
        }
        _workers[worker.Pid] = worker;
        Log.Info($"Booting worker {number} with pid {worker.Pid}");
    }

    private void Stop(int exitCode)
    {
        if (_stopping) return;
        _stopping = true;
        _exitCode = exitCode;
        _stopDeadline = Environment.TickCount64 + (long)_config.GracefulTimeout.TotalMilliseconds;
        foreach (var worker in _workers.Values) worker.Stop();
    }
}
