using Prefork.App;
using Prefork.Http;

namespace Prefork.Control;

public enum WorkerClass { Async, Sync }

/// <summary>--access-log-format: Apache combined (the default), Apache common (CLF), or one JSON object per line.</summary>
public enum AccessLogFormat { Combined, Common, Json }

/// <summary>
/// Everything the master tells a worker at spawn time. It travels in environment variables, like the
/// descriptors nginx and systemd hand to a child; this class is the only place that knows their names.
/// </summary>
public sealed record WorkerSettings
{
    /// <summary>Listening socket descriptors inherited from the master.</summary>
    public required int[] ListenFds { get; init; }
    /// <summary>The shared <see cref="Scoreboard"/>'s descriptor, inherited like the sockets.</summary>
    public int ScoreboardFd { get; init; } = -1;
    /// <summary>The worker's slot, 1..N, stable across replacements so logs read like a table.</summary>
    public required int Number { get; init; }
    public WorkerClass Class { get; init; } = WorkerClass.Async;
    /// <summary>Open connections one async worker serves at once before it stops accepting.</summary>
    public int MaxConnections { get; init; } = 1000;
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Time a client has to send a whole request head, and between body reads.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan GracefulTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public HttpLimits Limits { get; init; } = new();
    public Log.Level LogLevel { get; init; } = Log.Level.Info;
    /// <summary>Retire after this many requests (0: never), plus a random 0..MaxRequestsJitter, so workers do not all retire at once.</summary>
    public int MaxRequests { get; init; }
    public int MaxRequestsJitter { get; init; }
    /// <summary>User and group ids to switch to before serving (-1: stay as started).</summary>
    public int Uid { get; init; } = -1;
    public int Gid { get; init; } = -1;
    public string? AccessLog { get; init; }
    /// <summary>
    /// --access-log -: a dup of the master's stdout, inherited like the scoreboard. Workers write to it directly
    /// rather than sending lines over the channel, so access logging never queues behind the master's loop.
    /// </summary>
    public int AccessLogFd { get; init; } = -1;
    public AccessLogFormat AccessLogFormat { get; init; } = AccessLogFormat.Combined;
    public string? ErrorLog { get; init; }
    /// <summary>A directory served as static files (--root), or null; a full path.</summary>
    public string? StaticRoot { get; init; }
    /// <summary>The URL path the static files live under: "/" or "/static" (no trailing slash).</summary>
    public string StaticPrefix { get; init; } = "/";
    /// <summary>The user's app assembly (--app), a full path, or null for the demo app.</summary>
    public string? AppAssembly { get; init; }
    /// <summary>The app's type name, or null: the one public IHttpApp in the assembly.</summary>
    public string? AppType { get; init; }

    private const string Prefix = "PREFORK_";

    public IEnumerable<KeyValuePair<string, string>> ToEnvironment()
    {
        yield return new(Prefix + "LISTEN_FDS", string.Join(',', ListenFds));
        yield return new(Prefix + "WORKER_NUMBER", Number.ToString());
        yield return new(Prefix + "SCOREBOARD_FD", ScoreboardFd.ToString());
        yield return new(Prefix + "WORKER_CLASS", Class.ToString());
        yield return new(Prefix + "WORKER_CONNECTIONS", MaxConnections.ToString());
        yield return new(Prefix + "KEEP_ALIVE_MS", ((long)KeepAlive.TotalMilliseconds).ToString());
        yield return new(Prefix + "REQUEST_TIMEOUT_MS", ((long)RequestTimeout.TotalMilliseconds).ToString());
        yield return new(Prefix + "GRACEFUL_TIMEOUT_MS", ((long)GracefulTimeout.TotalMilliseconds).ToString());
        yield return new(Prefix + "LIMIT_REQUEST_LINE", Limits.MaxRequestLine.ToString());
        yield return new(Prefix + "LIMIT_REQUEST_FIELDS", Limits.MaxHeaderFields.ToString());
        yield return new(Prefix + "LIMIT_REQUEST_FIELD_SIZE", Limits.MaxHeaderFieldSize.ToString());
        yield return new(Prefix + "LIMIT_REQUEST_HEADERS", Limits.MaxHeadersTotalSize.ToString());
        yield return new(Prefix + "LIMIT_REQUEST_BODY", Limits.MaxBodySize.ToString());
        yield return new(Prefix + "LOG_LEVEL", LogLevel.ToString());
        yield return new(Prefix + "MAX_REQUESTS", MaxRequests.ToString());
        yield return new(Prefix + "MAX_REQUESTS_JITTER", MaxRequestsJitter.ToString());
        yield return new(Prefix + "UID", Uid.ToString());
        yield return new(Prefix + "GID", Gid.ToString());
        yield return new(Prefix + "ACCESS_LOG", AccessLog ?? "");
        yield return new(Prefix + "ACCESS_LOG_FD", AccessLogFd.ToString());
        yield return new(Prefix + "ACCESS_LOG_FORMAT", AccessLogFormat.ToString());
        yield return new(Prefix + "ERROR_LOG", ErrorLog ?? "");
        yield return new(Prefix + "STATIC_ROOT", StaticRoot ?? "");
        yield return new(Prefix + "STATIC_PREFIX", StaticPrefix);
        yield return new(Prefix + "APP_ASSEMBLY", AppAssembly ?? "");
        yield return new(Prefix + "APP_TYPE", AppType ?? "");
    }

    /// <summary>Reads the settings a master put in this process's environment; throws when one is missing.</summary>
    public static WorkerSettings FromEnvironment()
    {
        static string Get(string name) =>
            Environment.GetEnvironmentVariable(Prefix + name)
            ?? throw new InvalidOperationException($"{Prefix}{name} is not set: workers are started by the master");
        static int Int(string name) => int.Parse(Get(name));
        static TimeSpan Ms(string name) => TimeSpan.FromMilliseconds(long.Parse(Get(name)));
        static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

        return new WorkerSettings
        {
            ListenFds = Get("LISTEN_FDS").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(),
            Number = Int("WORKER_NUMBER"),
            ScoreboardFd = Int("SCOREBOARD_FD"),
            Class = Enum.Parse<WorkerClass>(Get("WORKER_CLASS")),
            MaxConnections = Int("WORKER_CONNECTIONS"),
            KeepAlive = Ms("KEEP_ALIVE_MS"),
            RequestTimeout = Ms("REQUEST_TIMEOUT_MS"),
            GracefulTimeout = Ms("GRACEFUL_TIMEOUT_MS"),
            Limits = new HttpLimits
            {
                MaxRequestLine = Int("LIMIT_REQUEST_LINE"),
                MaxHeaderFields = Int("LIMIT_REQUEST_FIELDS"),
                MaxHeaderFieldSize = Int("LIMIT_REQUEST_FIELD_SIZE"),
                MaxHeadersTotalSize = Int("LIMIT_REQUEST_HEADERS"),
                MaxBodySize = long.Parse(Get("LIMIT_REQUEST_BODY")),
            },
            LogLevel = Enum.Parse<Log.Level>(Get("LOG_LEVEL")),
            MaxRequests = Int("MAX_REQUESTS"),
            MaxRequestsJitter = Int("MAX_REQUESTS_JITTER"),
            Uid = Int("UID"),
            Gid = Int("GID"),
            AccessLog = NullIfEmpty(Get("ACCESS_LOG")),
            AccessLogFd = Int("ACCESS_LOG_FD"),
            AccessLogFormat = Enum.Parse<AccessLogFormat>(Get("ACCESS_LOG_FORMAT")),
            ErrorLog = NullIfEmpty(Get("ERROR_LOG")),
            StaticRoot = NullIfEmpty(Get("STATIC_ROOT")),
            StaticPrefix = Get("STATIC_PREFIX"),
            AppAssembly = NullIfEmpty(Get("APP_ASSEMBLY")),
            AppType = NullIfEmpty(Get("APP_TYPE")),
        };
    }
}
