using System.Runtime.InteropServices;
using Prefork.Control;
using Prefork.Http.Tls;

namespace Prefork.Master;

/// <summary>The Arbiter's signals: one method each, called from its loop, never from the handler itself.</summary>
public sealed partial class Arbiter
{
    // USR1 and USR2 have no PosixSignal name; Linux numbers work with PosixSignalRegistration.
    private const PosixSignal SIGUSR1 = (PosixSignal)Native.SIGUSR1, SIGUSR2 = (PosixSignal)Native.SIGUSR2;
    private const PosixSignal SIGWINCH = PosixSignal.SIGWINCH;

    private static readonly PosixSignal[] HandledSignals =
    [
        PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP,
        PosixSignal.SIGTTIN, PosixSignal.SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH,
    ];

    /// <summary>
    /// Gives back their default action to the master's signals that its parent ignored: an ignored signal stays
    /// ignored across exec (a script's <c>prefork &amp;</c> ignores INT and QUIT, nohup HUP), and .NET installs no
    /// handler for one, so the operator's INT, QUIT or HUP would do nothing. nginx and gunicorn take their signals
    /// whatever their parent did. Call before anything writes to the console: the runtime sets its signal handling
    /// up then, and an INT or QUIT it found ignored stays so for good.
    /// </summary>
    public static void TakeSignalsBack()
    {
        foreach (var signal in HandledSignals) Native.StopIgnoring(Native.Number(signal));
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

    /// <summary>
    /// TERM is how orchestrators and init systems stop a server behind a balancer, so with --shutdown-delay it
    /// first makes the server a lame duck: health answers 503 while everything is still served and accepted,
    /// and the stop comes when the delay is over (<see cref="EndLameDuck"/>). INT and QUIT are an operator's:
    /// they stop at once, and end a lame duck early. A TERM from the new master of a binary upgrade, which
    /// holds the sockets already, stops at once too: there the new generation answers the health checks.
    /// </summary>
    private void HandleTerm(PosixSignal signal)
    {
        if (signal == PosixSignal.SIGTERM && _config.ShutdownDelay > TimeSpan.Zero && !_listeners.HandedOver)
        {
            if (_lameDuckUntil == 0) BeginLameDuck();
            return;
        }
        Log.Info($"Handling signal: {Name(signal)}, graceful stop (up to {_config.GracefulTimeout.TotalSeconds:0}s)");
        Stop(0);
    }

    private void BeginLameDuck()
    {
        _lameDuckUntil = _clock() + (long)_config.ShutdownDelay.TotalMilliseconds;
        Log.Info($"Handling signal: SIGTERM, lame duck for {_config.ShutdownDelay.TotalSeconds:0}s (health answers 503, " +
                 $"requests are served), then graceful stop (up to {_config.GracefulTimeout.TotalSeconds:0}s)");
        foreach (var worker in _workers.Values) worker.Send(ControlChannel.Unready);
    }

    /// <summary>Called after every event: once the --shutdown-delay is over, the graceful stop.</summary>
    private void EndLameDuck()
    {
        if (_lameDuckUntil == 0 || _stopping || _clock() < _lameDuckUntil) return;
        Log.Info($"Shutdown delay over: graceful stop (up to {_config.GracefulTimeout.TotalSeconds:0}s)");
        Stop(0);
    }

    private void HandleSecondInt()
    {
        Log.Info("Handling signal: SIGINT again, stopping at once");
        foreach (var worker in _workers.Values) worker.Kill();
    }

    /// <summary>
    /// Reload: a new generation of workers starts from the binaries on disk; once all of it is ready, the old
    /// generation is stopped gracefully (see <see cref="ManageWorkers"/>), so capacity never dips.
    /// </summary>
    private void HandleHup()
    {
        if (_stopping || _lameDuckUntil != 0) return;
        // The new workers read the certificate afresh; one that cannot serve would stop the server at their boot.
        DateTime? notAfter = null;
        if (_config.WorkerTemplate.Tls is { } tls)
        {
            var (problem, expires) = TlsServer.Check(tls);
            if (problem != null)
            {
                Log.Error($"Handling signal: SIGHUP, not reloading: {problem}");
                return;
            }
            notAfter = expires;
        }
        _generation++;
        Log.Info($"Handling signal: SIGHUP, reloading: booting generation {_generation}");
        if (notAfter != null) NoteCertificate(notAfter.Value);
    }

    private void HandleTtin()
    {
        _target = Math.Min(Scoreboard.MaxWorkers, _target + 1);
        Log.Info($"Handling signal: SIGTTIN, workers: {_target}");
    }

    /// <summary>One worker fewer: <see cref="ManageWorkers"/> retires the oldest.</summary>
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
        if (_stopping || _lameDuckUntil != 0)
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

    private static string Name(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGTERM => "SIGTERM",
        PosixSignal.SIGINT => "SIGINT",
        PosixSignal.SIGQUIT => "SIGQUIT",
        _ => signal.ToString(),
    };
}
