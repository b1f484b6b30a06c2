using System.Text.Json;
using Prefork.Http;
using Prefork.Http.Tls;

namespace Prefork.Control;

public enum WorkerClass { Async, Sync }

/// <summary>--access-log-format: Apache combined (the default), Apache common (CLF), or one JSON object per line.</summary>
public enum AccessLogFormat { Combined, Common, Json }

/// <summary>
/// What workers run: an assembly with an IHttpApp (--app), run by the worker program; an ASP.NET Core app (--app),
/// run as itself; or the master's own program again, an app that is its own master (UsePrefork).
/// </summary>
public enum AppKind { HttpApp, AspNetCore, Self }

/// <summary>
/// Everything the master tells a worker at spawn time, built once from the command line by the master's
/// MasterConfig. It travels whole, as one JSON record in one environment variable (like the descriptors nginx
/// and systemd hand to a child): a field added here reaches the worker with no other change. Flag defaults are
/// not written here but in the master's Options (the HTTP limits': in <see cref="HttpLimits"/>); the members a
/// flag always sets are required, so a record missing one is refused rather than filled in.
/// </summary>
public sealed record WorkerSettings
{
    /// <summary>The one environment variable the settings travel in.</summary>
    public const string EnvironmentVariable = "PREFORK_WORKER_SETTINGS";

    /// <summary>Listening socket descriptors inherited from the master.</summary>
    public required int[] ListenFds { get; init; }
    /// <summary>Those of <see cref="ListenFds"/> that speak TLS, with the certificate <see cref="Tls"/> names.</summary>
    public int[] TlsListenFds { get; init; } = [];
    /// <summary>--certfile, --keyfile, --ca-certs; null when no listener speaks TLS.</summary>
    public TlsSettings? Tls { get; init; }
    /// <summary>
    /// A memfd, inherited like the sockets, holding the session-ticket keys the master made for all its workers
    /// (see SharedTicketKeys): only the number travels here, since the keys are a secret; -1: none.
    /// </summary>
    public int TicketKeysFd { get; init; } = -1;
    /// <summary>The URLs clients reach those sockets on, as the master logged them ("http://127.0.0.1:8888"), for apps that ask.</summary>
    public string[] ListenUrls { get; init; } = [];
    /// <summary>The shared <see cref="Scoreboard"/>'s descriptor, inherited like the sockets.</summary>
    public int ScoreboardFd { get; init; } = -1;
    /// <summary>This process's own slot in the scoreboard, which no other live worker has (the master hands them out).</summary>
    public int ScoreboardSlot { get; init; }
    /// <summary>The worker's slot, 1..N, stable across replacements so logs read like a table.</summary>
    public required int Number { get; init; }
    public required WorkerClass Class { get; init; }
    /// <summary>Open connections one async worker serves at once before it stops accepting.</summary>
    public required int MaxConnections { get; init; }
    public required TimeSpan GracefulTimeout { get; init; }
    /// <summary>What a client may send and how long it may take, keep-alive included: the HTTP engine's settings.</summary>
    public required HttpLimits Limits { get; init; }
    /// <summary>Whom the engine believes about a client's address and scheme (PROXY protocol, X-Forwarded-*).</summary>
    public required ProxyTrust ProxyTrust { get; init; }
    public required Log.Level LogLevel { get; init; }
    /// <summary>Retire after this many requests (0: never), plus a random 0..MaxRequestsJitter, so workers do not all retire at once.</summary>
    public required int MaxRequests { get; init; }
    public required int MaxRequestsJitter { get; init; }
    /// <summary>User and group ids to switch to before serving (-1: stay as started).</summary>
    public int Uid { get; init; } = -1;
    public int Gid { get; init; } = -1;
    public string? AccessLog { get; init; }
    /// <summary>
    /// --access-log -: a dup of the master's stdout, inherited like the scoreboard. Workers write to it directly
    /// rather than sending lines over the channel, so access logging never queues behind the master's loop.
    /// </summary>
    public int AccessLogFd { get; init; } = -1;
    public required AccessLogFormat AccessLogFormat { get; init; }
    public string? ErrorLog { get; init; }
    /// <summary>A directory served as static files (--root), or null; a full path.</summary>
    public string? StaticRoot { get; init; }
    /// <summary>The URL path the static files live under: "/" or "/static" (no trailing slash).</summary>
    public required string StaticPrefix { get; init; }
    /// <summary>The user's app assembly (--app), a full path, or null for the demo app.</summary>
    public string? AppAssembly { get; init; }
    /// <summary>The app's type name, or null: the one public IHttpApp in the assembly.</summary>
    public string? AppType { get; init; }
    /// <summary>How the worker runs <see cref="AppAssembly"/>: the master's MasterConfig tells, from the app's runtimeconfig.</summary>
    public AppKind AppKind { get; init; }
    /// <summary>--health-path: the path the worker answers itself, before the app, with the server's health; null: off.</summary>
    public string? HealthPath { get; init; }
    /// <summary><see cref="AppKind.Self"/>: the arguments the app's own program is started with, those of the master's command line that are not the master's.</summary>
    public string[] AppArguments { get; init; } = [];

    /// <summary>The one place that says what --max-requests 0 means: the worker never retires for its request count.</summary>
    public long RequestsBeforeRetiring() =>
        MaxRequests == 0 ? long.MaxValue : MaxRequests + Random.Shared.Next(MaxRequestsJitter + 1);

    public string ToJson() => JsonSerializer.Serialize(this, WorkerSettingsJson.Default.WorkerSettings);

    /// <summary>Reads a record <see cref="ToJson"/> wrote; throws <see cref="InvalidOperationException"/>, with one line for the log, when it cannot.</summary>
    public static WorkerSettings FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, WorkerSettingsJson.Default.WorkerSettings)
                ?? throw new JsonException("the record is null");
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{EnvironmentVariable} is malformed: {e.Message}", e);
        }
    }

    /// <summary>Reads the settings a master put in this process's environment; throws when they are missing or malformed.</summary>
    public static WorkerSettings FromEnvironment() =>
        FromJson(Environment.GetEnvironmentVariable(EnvironmentVariable)
            ?? throw new InvalidOperationException($"{EnvironmentVariable} is not set: workers are started by the master"));
}
