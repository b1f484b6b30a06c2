using CommandLine;
using CommandLine.Text;
using Prefork.Control;
using Prefork.Http.Tls;

namespace Prefork.Master;

/// <summary>
/// The master's main, whole: the command line, its config, the sockets, the metrics endpoint, the Arbiter, and the
/// exit code. Exit codes: 0 after a clean stop, 1 when the server cannot start, 2 for a bad command line, 3 when
/// workers cannot boot (gunicorn's convention).
/// </summary>
public static class MasterProgram
{
    /// <summary>Prefork.Master: workers run the worker program, or the app --app names.</summary>
    public static Task<int> RunAsync(string[] args) =>
        RunAsync(args, "Prefork.Master [options]   (in a clone: dotnet run --project src/Master -- [options]; signals: see README)", appArguments: null);

    /// <summary>
    /// An app that is its own master (UsePrefork): each worker is this program again (<see cref="AppKind.Self"/>).
    /// The master's flags are the master's; every other argument, and all after "--", is the app's, and the
    /// workers get those alone. The app's own defaults for the master's flags give way to the command line's.
    /// </summary>
    public static async Task<int> RunSelfAsync(string[] args, string program, string[] defaults)
    {
        if (CommandLineCheck.FirstProblem(defaults) is { } problem)
        {
            Console.Error.WriteLine($"error: in the app's UsePrefork(...): {problem}");
            return 2;
        }
        var (master, app) = CommandLineCheck.SplitOffAppArguments(args);
        return await RunAsync(CommandLineCheck.UnderDefaults(defaults, master),
            $"{program} [options] [app arguments] [-- app arguments]   (signals: see Prefork's README)", app);
    }

    private static async Task<int> RunAsync(string[] args, string usage, string[]? appArguments)
    {
        Arbiter.TakeSignalsBack();
        var parser = new Parser(s =>
        {
            s.HelpWriter = null;
            s.AllowMultiInstance = true;
            s.CaseInsensitiveEnumValues = true;
        });
        // The parser knows --help and --version only as the first argument; anywhere else it calls them unknown.
        var first = args.FirstOrDefault(a => a is "--help" or "--version");
        if (first != null) args = [first];
        else if (CommandLineCheck.FirstProblem(args) is { } problem)
        {
            Console.Error.WriteLine($"error: {problem}. Try --help.");
            return 2;
        }
        var parsed = parser.ParseArguments<Options>(args);
        if (parsed is NotParsed<Options> notParsed)
        {
            var errors = notParsed.Errors.ToList();
            if (errors.Any(e => e is HelpRequestedError or VersionRequestedError))
            {
                Console.WriteLine(errors.Any(e => e is VersionRequestedError)
                    ? $"prefork {typeof(Options).Assembly.GetName().Version?.ToString(3)}"
                    : HelpText.AutoBuild(parsed, h =>
                    {
                        h.Heading = "prefork: a pre-forking HTTP/1.1 server";
                        h.Copyright = $"Usage: {usage}";
                        h.AddDashesToOption = true;
                        return h;
                    }, e => e));
                return 0;
            }
            // CommandLineCheck has refused what the parser would; this is for whatever else it finds.
            Console.Error.WriteLine($"error: bad command line ({errors[0].Tag}). Try --help.");
            return 2;
        }

        var (config, error) = MasterConfig.From(parsed.Value);
        if (config is { } own && appArguments != null) (config, error) = own.AsOwnApp(appArguments);
        if (config == null)
        {
            Console.Error.WriteLine($"error: {error}");
            return 2;
        }
        Log.MinimumLevel = config.WorkerTemplate.LogLevel;
        if (parsed.Value.Status) return await StatusClient.RunAsync(config.MetricsBind!);
        return await ServeAsync(config);
    }

    private static async Task<int> ServeAsync(MasterConfig config)
    {
        Listeners listeners;
        Arbiter arbiter;
        PidFile? pidFile = config.PidFile != null ? new PidFile(config.PidFile) : null;
        using var metrics = new MasterMetrics();
        MetricsEndpoint? metricsEndpoint = null;
        try
        {
            // --access-log -: workers get a dup of our stdout and write to it themselves (see WorkerSettings.AccessLogFd).
            if (config.WorkerTemplate.AccessLog == "-")
                config = config with { WorkerTemplate = config.WorkerTemplate with { AccessLog = null, AccessLogFd = Native.Dup(1) } };
            PrepareLogFiles(config.WorkerTemplate);
            if (Listeners.FromEnvironment() is { } inherited)
            {
                listeners = inherited;
                listeners.MarkTls(config.Binds);
            }
            else
            {
                listeners = Listeners.Open(config.Binds, config.Backlog, config.ReusePort);
            }
            listeners.Board = Scoreboard.Create();
            config = config with { WorkerTemplate = config.WorkerTemplate with { ScoreboardFd = listeners.Board.Fd, ListenUrls = listeners.Urls.ToArray() } };
            // Made once: the workers of every generation share them, so a reload keeps clients' sessions resumable.
            if (config.WorkerTemplate.Tls != null)
                config = config with { WorkerTemplate = config.WorkerTemplate with { TicketKeysFd = SharedTicketKeys.CreateForWorkers() } };
            if (config.MetricsBind != null) metricsEndpoint = MetricsEndpoint.Start(config.MetricsBind, metrics);
            arbiter = new Arbiter(config, listeners, pidFile) { Metrics = metrics };
            // The pid file tells the world where to send signals: not before they are caught, or a HUP sent the moment
            // it appears (a script, a USR2's next step) would take the runtime's default action and kill the master.
            arbiter.CatchSignals();
            pidFile?.Write();
        }
        catch (Exception e) when (e is ListenException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }

        using (metricsEndpoint)
        using (listeners)
        {
            Log.Info($"Starting prefork {typeof(Options).Assembly.GetName().Version?.ToString(3)}");
            foreach (var url in listeners.Urls) Log.Info($"Listening at: {url} (master pid {Environment.ProcessId})");
            if (metricsEndpoint != null) Log.Info($"Metrics at: {metricsEndpoint.Url}");
            Log.Info($"Using worker class: {config.WorkerTemplate.Class.ToString().ToLowerInvariant()}");
            try
            {
                return await arbiter.RunAsync();
            }
            finally
            {
                pidFile?.Remove();
            }
        }
    }

    // Log files exist before any worker starts, owned by the user the workers become, so they can reopen them.
    private static void PrepareLogFiles(WorkerSettings workers)
    {
        foreach (var path in new[] { workers.AccessLog, workers.ErrorLog })
        {
            if (path == null) continue;
            Log.OpenAppend(path).Dispose();
            if (workers.Uid >= 0) Native.ChangeOwner(path, workers.Uid, workers.Gid);
        }
        if (workers.ErrorLog != null) Log.ToFile(workers.ErrorLog);
    }
}
