namespace Prefork.Control;

/// <summary>
/// The master–worker channel: one text line per message over the worker's stdin (master → worker) and
/// stdout (worker → master), as unicorn does with a pipe per worker. End of file on the worker's stdin
/// means the master is gone, however it died. Logs never use stdout; they go to stderr.
/// </summary>
public static class ControlChannel
{
    /// <summary>
    /// Master → worker, when the whole server stops: take what is already queued on the socket (nobody else
    /// will), finish in-flight requests, exit.
    /// </summary>
    public const string Stop = "stop";

    /// <summary>Master → worker, when it alone goes (reload, scale-down): stop accepting at once, since its siblings take the queue; finish, exit.</summary>
    public const string Retire = "retire";

    /// <summary>
    /// Master → worker, when SIGTERM starts the --shutdown-delay: the server is about to stop, so the health path
    /// answers 503 from now on; everything else is served and accepted as before until <see cref="Stop"/>.
    /// </summary>
    public const string Unready = "unready";

    /// <summary>Master → worker: reopen the log files (after logrotate moved them; SIGUSR1).</summary>
    public const string Reopen = "reopen";

    /// <summary>Worker → master: reached --max-requests and draining; the master starts its replacement now.</summary>
    public const string Retiring = "retiring";

    /// <summary>Worker → master: booted and accepting. A worker that dies before this failed to boot.</summary>
    public const string Ready = "ready";

    /// <summary>
    /// Worker → master, every second while the worker's loop turns, and once more just before a graceful exit:
    /// the worker's cumulative counters (see <see cref="WorkerCounters.Format"/>). The once-a-second report is
    /// the heartbeat too: a sync worker sends none while a request runs, so a request stuck past --timeout gets
    /// the worker killed. A SIGKILLed worker loses at most the last second of counts.
    /// </summary>
    public const string Metrics = "metrics";

    /// <summary>The exit code of a worker that cannot boot (gunicorn's WORKER_BOOT_ERROR): the master stops respawning.</summary>
    public const int BootErrorExitCode = 3;
}
