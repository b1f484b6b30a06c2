using CommandLine;
using Prefork.Http;

namespace Prefork.Master;

/// <summary>
/// The command line. Names follow gunicorn's where it has one; every default is in --help and the README, and
/// written once: here, or, for the HTTP limits, as HttpLimits' constants named here. MasterConfig checks the
/// values and turns them into the settings the master and its workers run with.
/// </summary>
public sealed class Options
{
    [Option('b', "bind", HelpText = "Address to listen on: HOST:PORT, [IPv6]:PORT or unix:PATH, marked https:// for TLS (see --certfile). Repeat for several. Port 0 picks a free port. (default: 127.0.0.1:8888)")]
    public IEnumerable<string> Bind { get; set; } = [];

    [Option("certfile", HelpText = "Serve TLS with this PEM certificate (then any intermediates). Makes every --bind TLS, unless some are marked https://; http:// marks a plain one.")]
    public string? CertFile { get; set; }

    [Option("keyfile", HelpText = "The PEM private key of --certfile (unencrypted). (default: the --certfile itself)")]
    public string? KeyFile { get; set; }

    [Option("ca-certs", HelpText = "PEM certificates of the authorities a client certificate must chain to: with it, every TLS client must present one.")]
    public string? CaCerts { get; set; }

    [Option("reuse-port", HelpText = "Let other servers bind the same address (SO_REUSEPORT, each of them with --reuse-port); the kernel spreads new connections among them. Off: an address in use is an error.")]
    public bool ReusePort { get; set; }

    [Option('w', "workers", HelpText = "Number of worker processes. (default: the number of CPUs)")]
    public int? Workers { get; set; }

    [Option('k', "worker-class", Default = "async", HelpText = "async: each worker serves many connections at once; sync: one connection at a time, the classic prefork model.")]
    public string WorkerClass { get; set; } = "async";

    [Option("worker-connections", Default = 1000, HelpText = "Most connections one async worker holds open; past it the worker stops accepting.")]
    public int WorkerConnections { get; set; }

    [Option("backlog", Default = 2048, HelpText = "Length of the listening socket's queue of connections not yet accepted.")]
    public int Backlog { get; set; }

    [Option("keep-alive", Default = HttpLimits.DefaultKeepAliveSeconds, HelpText = "Seconds an idle keep-alive connection stays open.")]
    public int KeepAlive { get; set; }

    [Option("request-timeout", Default = HttpLimits.DefaultRequestTimeoutSeconds, HelpText = "Seconds a client has to send a request head, each part of a body, or to take a response.")]
    public int RequestTimeout { get; set; }

    [Option("shutdown-delay", Default = 0, HelpText = "Seconds the server keeps serving after SIGTERM, with --health-path answering 503, before the graceful stop: time for a load balancer to take it out of rotation.")]
    public int ShutdownDelay { get; set; }

    [Option("health-path", HelpText = "Answer this path on the public port from the server itself, before the app: 200 while it takes new work, 503 once it is stopping. Off by default.")]
    public string? HealthPath { get; set; }

    [Option("graceful-timeout", Default = 30, HelpText = "Seconds workers get to finish their requests on a graceful stop before they are killed.")]
    public int GracefulTimeout { get; set; }

    [Option("limit-request-line", Default = HttpLimits.DefaultMaxRequestLine, HelpText = "Longest request line in bytes; longer gets 414.")]
    public int LimitRequestLine { get; set; }

    [Option("limit-request-fields", Default = HttpLimits.DefaultMaxHeaderFields, HelpText = "Most header fields in a request; more gets 431.")]
    public int LimitRequestFields { get; set; }

    [Option("limit-request-field-size", Default = HttpLimits.DefaultMaxHeaderFieldSize, HelpText = "Longest header field line in bytes; longer gets 431.")]
    public int LimitRequestFieldSize { get; set; }

    [Option("limit-request-body", Default = HttpLimits.DefaultMaxBodySize, HelpText = "Largest request body in bytes; larger gets 413.")]
    public long LimitRequestBody { get; set; }

    [Option("proxy-protocol", HelpText = "Every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends), which names the client; a connection without one is closed.")]
    public bool ProxyProtocol { get; set; }

    [Option("proxy-allow-from", Default = AddressList.LocalOnly, HelpText = "With --proxy-protocol: peers that may send the PROXY header, comma-separated addresses and CIDR networks, or *; others are closed.")]
    public string ProxyAllowFrom { get; set; } = AddressList.LocalOnly;

    [Option("forwarded-allow-ips", Default = AddressList.LocalOnly, HelpText = "Peers whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated addresses and CIDR networks, or *.")]
    public string ForwardedAllowIps { get; set; } = AddressList.LocalOnly;

    [Option('t', "timeout", Default = 30, HelpText = "Seconds a worker may go without a heartbeat before the master kills and replaces it. Worker liveness, not a request deadline (see README).")]
    public int Timeout { get; set; }

    [Option("max-requests", Default = 0, HelpText = "Retire a worker gracefully after this many requests (0: never).")]
    public int MaxRequests { get; set; }

    [Option("max-requests-jitter", Default = 0, HelpText = "Add a random 0..N to --max-requests per worker, so workers do not all retire at once.")]
    public int MaxRequestsJitter { get; set; }

    [Option("pid", HelpText = "Write the master's pid to this file.")]
    public string? PidFile { get; set; }

    [Option("user", HelpText = "Workers switch to this user (name or uid) before serving; the master needs to run as root.")]
    public string? User { get; set; }

    [Option("group", HelpText = "Workers switch to this group (name or gid); defaults to the user's group.")]
    public string? Group { get; set; }

    [Option("access-log", HelpText = "Append one line per request to this file ('-': the master's stdout), in --access-log-format.")]
    public string? AccessLog { get; set; }

    [Option("access-log-format", Default = "combined", HelpText = "combined (Apache combined), common (Apache CLF) or json (one object per line).")]
    public string AccessLogFormat { get; set; } = "combined";

    [Option("metrics-bind", HelpText = "Serve /metrics (Prometheus text), /status, /healthz and /livez from the master on this HOST:PORT; off by default. With --status: the master to ask.")]
    public string? MetricsBind { get; set; }

    [Option("status", HelpText = "Print the worker table of the master running at --metrics-bind, then exit.")]
    public bool Status { get; set; }

    [Option("error-log", HelpText = "Write the log to this file instead of stderr.")]
    public string? ErrorLog { get; set; }

    [Option("log-level", Default = "info", HelpText = "debug, info, warning, error or critical.")]
    public string LogLevel { get; set; } = "info";

    [Option("root", HelpText = "Serve the files in this directory (GET and HEAD, with ETag, Last-Modified and Range). Paths that name no file fall through to the app.")]
    public string? Root { get; set; }

    [Option("root-prefix", Default = "/", HelpText = "The URL path the --root files are served under, e.g. /static.")]
    public string RootPrefix { get; set; } = "/";

    [Option("app", HelpText = "Run your own app instead of the demo: PATH/TO/MyApp.dll, or PATH/TO/MyApp.dll:Namespace.Type when it holds several IHttpApp types.")]
    public string? App { get; set; }
}
