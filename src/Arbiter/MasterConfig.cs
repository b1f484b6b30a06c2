using System.Text.Json;
using Prefork.Control;
using Prefork.Http;
using Prefork.Http.Tls;

namespace Prefork.Master;

/// <summary>Validated settings: the command line turned into what the master and its workers run with.</summary>
public sealed record MasterConfig(
    IReadOnlyList<BindAddress> Binds,
    int Workers,
    int Backlog,
    TimeSpan GracefulTimeout,
    TimeSpan Timeout,
    string? PidFile,
    WorkerSettings WorkerTemplate)
{
    public const string DefaultBind = "127.0.0.1:8888";

    /// <summary>--metrics-bind: where the master serves /metrics and /status; null: off.</summary>
    public BindAddress? MetricsBind { get; init; }

    /// <summary>--shutdown-delay: after SIGTERM, how long the server serves on as a lame duck (health 503) before the graceful stop.</summary>
    public TimeSpan ShutdownDelay { get; init; }

    /// <summary>--reuse-port: SO_REUSEPORT on the listening sockets, so other servers may share them.</summary>
    public bool ReusePort { get; init; }

    /// <summary>When the --certfile certificate expires (UTC), as read when the flags were checked; null without TLS.</summary>
    public DateTime? CertificateNotAfter { get; init; }

    /// <summary>Checks every flag; returns the first problem as one line, or the config.</summary>
    public static (MasterConfig? Config, string? Error) From(Options o)
    {
        if (o.Workers is { } w && (w < 1 || w > Scoreboard.MaxWorkers)) return Fail($"--workers must be from 1 to {Scoreboard.MaxWorkers} (got {w})");
        if (!Enum.TryParse<WorkerClass>(o.WorkerClass, ignoreCase: true, out var workerClass) || int.TryParse(o.WorkerClass, out _))
            return Fail($"--worker-class must be async or sync (got '{o.WorkerClass}')");
        if (o.WorkerConnections < 1) return Fail($"--worker-connections must be at least 1 (got {o.WorkerConnections})");
        if (o.Backlog < 1) return Fail($"--backlog must be at least 1 (got {o.Backlog})");
        if (o.KeepAlive < 0) return Fail($"--keep-alive must be 0 or more seconds (got {o.KeepAlive})");
        if (o.RequestTimeout < 1) return Fail($"--request-timeout must be at least 1 second (got {o.RequestTimeout})");
        if (o.GracefulTimeout < 0) return Fail($"--graceful-timeout must be 0 or more seconds (got {o.GracefulTimeout})");
        if (o.ShutdownDelay < 0) return Fail($"--shutdown-delay must be 0 or more seconds (got {o.ShutdownDelay})");
        if (o.HealthPath != null && !IsPlainPath(o.HealthPath)) return Fail($"--health-path must be a plain URL path starting with / (got '{o.HealthPath}')");
        if (o.LimitRequestLine < 16) return Fail($"--limit-request-line must be at least 16 (got {o.LimitRequestLine})");
        if (o.LimitRequestFields < 1) return Fail($"--limit-request-fields must be at least 1 (got {o.LimitRequestFields})");
        if (o.LimitRequestFieldSize < 16) return Fail($"--limit-request-field-size must be at least 16 (got {o.LimitRequestFieldSize})");
        if (o.LimitRequestBody < 0) return Fail($"--limit-request-body must be 0 or more (got {o.LimitRequestBody})");
        if (!AddressList.TryParse(o.ProxyAllowFrom, out var proxyAllowFrom, out var listError)) return Fail($"--proxy-allow-from: {listError}");
        if (!AddressList.TryParse(o.ForwardedAllowIps, out var forwardedAllowIps, out listError)) return Fail($"--forwarded-allow-ips: {listError}");
        if (o.Timeout < 1) return Fail($"--timeout must be at least 1 second (got {o.Timeout})");
        if (o.MaxRequests < 0) return Fail($"--max-requests must be 0 or more (got {o.MaxRequests})");
        if (o.MaxRequestsJitter < 0) return Fail($"--max-requests-jitter must be 0 or more (got {o.MaxRequestsJitter})");
        int uid = -1, gid = -1;
        if (o.User != null)
        {
            if (Native.LookUpUser(o.User) is not { } user) return Fail($"--user: no such user '{o.User}'");
            (uid, gid) = user;
        }
        if (o.Group != null)
        {
            if (Native.LookUpGroup(o.Group) is not { } group) return Fail($"--group: no such group '{o.Group}'");
            gid = group;
        }
        if ((uid >= 0 || gid >= 0) && Native.CurrentUid != 0)
            return Fail("--user/--group: the master must run as root to switch users");
        if (o.Root != null && !Directory.Exists(o.Root))
            return Fail(File.Exists(o.Root) ? $"--root: '{o.Root}' is a file, not a directory" : $"--root: no such directory '{o.Root}'");
        if (!IsPlainPath(o.RootPrefix))
            return Fail($"--root-prefix must be a plain URL path starting with / (got '{o.RootPrefix}')");
        var (appAssembly, appType) = SplitAppSpec(o.App);
        if (appAssembly != null && !File.Exists(appAssembly)) return Fail($"--app: no such file '{appAssembly}'");
        var (appKind, appError) = appAssembly == null ? (AppKind.HttpApp, null) : KindOf(appAssembly);
        if (appError != null) return Fail(appError);
        if (appKind == AppKind.AspNetCore && appType != null)
            return Fail($"--app: {appAssembly} is an ASP.NET Core app, which runs as a whole: name no type (got ':{appType}')");
        if (appKind == AppKind.AspNetCore && !File.Exists(WorkerExecutable.AspNetCoreHook))
            return Fail($"--app: an ASP.NET Core app needs {Path.GetFileName(WorkerExecutable.AspNetCoreHook)} beside the master, and it is not there");
        // An ASP.NET Core app runs on `dotnet` under its own runtime, so a NativeAOT master can run it too.
        if (appAssembly != null && appKind == AppKind.HttpApp && WorkerExecutable.IsNativeAot)
            return Fail("--app needs the JIT worker, and this is a NativeAOT build (publish with -p:PublishAot=false; README: Deploying)");
        if (!Log.TryParseLevel(o.LogLevel, out var level)) return Fail($"--log-level must be debug, info, warning, error or critical (got '{o.LogLevel}')");

        if (!Enum.TryParse<AccessLogFormat>(o.AccessLogFormat, ignoreCase: true, out var accessLogFormat) || int.TryParse(o.AccessLogFormat, out _))
            return Fail($"--access-log-format must be combined, common or json (got '{o.AccessLogFormat}')");
        BindAddress? metricsBind = null;
        if (o.MetricsBind != null && (!BindAddress.TryParse(o.MetricsBind, out metricsBind, out var metricsError) || metricsBind!.IsUnix || metricsBind.Tls != null))
            return Fail($"--metrics-bind {o.MetricsBind}: {metricsError ?? "must be HOST:PORT"}");
        if (o.Status && metricsBind == null) return Fail("--status needs --metrics-bind HOST:PORT of the running master");

        var binds = new List<BindAddress>();
        foreach (var text in o.Bind.DefaultIfEmpty(DefaultBind))
        {
            if (!BindAddress.TryParse(text, out var bind, out var error)) return Fail($"--bind {text}: {error}");
            binds.Add(bind!);
        }
        var (tls, notAfter, tlsError) = SettleTls(o, binds);
        if (tlsError != null) return Fail(tlsError);

        // Seconds on the command line, time spans from here on: each is converted once, here, and the master
        // and its workers read the same value.
        var gracefulTimeout = TimeSpan.FromSeconds(o.GracefulTimeout);
        var template = new WorkerSettings
        {
            ListenFds = [],
            Tls = tls,
            Number = 0,
            Class = workerClass,
            MaxConnections = o.WorkerConnections,
            GracefulTimeout = gracefulTimeout,
            Limits = new HttpLimits
            {
                MaxRequestLine = o.LimitRequestLine,
                MaxHeaderFields = o.LimitRequestFields,
                MaxHeaderFieldSize = o.LimitRequestFieldSize,
                MaxBodySize = o.LimitRequestBody,
                KeepAlive = TimeSpan.FromSeconds(o.KeepAlive),
                RequestTimeout = TimeSpan.FromSeconds(o.RequestTimeout),
            },
            ProxyTrust = new ProxyTrust { ProxyProtocol = o.ProxyProtocol, ProxyAllowFrom = proxyAllowFrom!, ForwardedAllowIps = forwardedAllowIps! },
            LogLevel = level,
            MaxRequests = o.MaxRequests,
            MaxRequestsJitter = o.MaxRequestsJitter,
            Uid = uid,
            Gid = gid,
            // "-" stays as it is: the master hands workers its stdout (see Program).
            AccessLog = o.AccessLog == "-" ? "-" : FullPath(o.AccessLog),
            AccessLogFormat = accessLogFormat,
            ErrorLog = FullPath(o.ErrorLog),
            StaticRoot = FullPath(o.Root),
            StaticPrefix = o.RootPrefix.TrimEnd('/') is { Length: > 0 } prefix ? prefix : "/",
            AppAssembly = FullPath(appAssembly),
            AppType = appType,
            AppKind = appKind,
            HealthPath = o.HealthPath,
        };
        return (new MasterConfig(binds, o.Workers ?? Environment.ProcessorCount, o.Backlog,
            gracefulTimeout, TimeSpan.FromSeconds(o.Timeout), FullPath(o.PidFile), template) 
        {
            MetricsBind = metricsBind,
            ReusePort = o.ReusePort,
            CertificateNotAfter = notAfter,
            ShutdownDelay = TimeSpan.FromSeconds(o.ShutdownDelay),
        }, null);

        // A path the request's own path can equal: no dot segments, no escapes, no query or fragment.
        static bool IsPlainPath(string path) =>
            path.StartsWith('/') && !path.Split('/').Any(s => s is "." or "..") && path.IndexOfAny(['%', '?', '#', ' ']) < 0;

        // "MyApp.dll:Namespace.Type": the type follows the last colon, unless that colon is part of the path.
        static (string? Path, string? Type) SplitAppSpec(string? spec)
        {
            if (spec == null) return (null, null);
            int colon = spec.LastIndexOf(':');
            return colon > 0 && colon < spec.Length - 1 && !spec[colon..].Contains('/') ? (spec[..colon], spec[(colon + 1)..]) : (spec, null);
        }

        static (MasterConfig?, string?) Fail(string error) => (null, error);
    }

    private static string? FullPath(string? path) => path == null ? null : Path.GetFullPath(path);

    /// <summary>
    /// Which binds speak TLS (each in <paramref name="binds"/> is settled in place), and the certificate files,
    /// read once here so a bad path, a bad PEM or a key that is not the certificate's stops the start with one line.
    /// </summary>
    private static (TlsSettings? Tls, DateTime? NotAfter, string? Error) SettleTls(Options o, List<BindAddress> binds)
    {
        if (o.CertFile == null)
        {
            if (o.KeyFile != null || o.CaCerts != null) return (null, null, "--keyfile and --ca-certs need --certfile");
            var marked = binds.FirstOrDefault(b => b.IsTls);
            return (null, null, marked == null ? null : $"--bind {marked.Text}: https:// needs --certfile");
        }
        bool anyMarked = binds.Any(b => b.IsTls);
        for (int i = 0; i < binds.Count; i++) binds[i] = binds[i] with { Tls = binds[i].Tls ?? !anyMarked };
        if (!binds.Any(b => b.IsTls)) return (null, null, "--certfile: every --bind is marked http://, so none would serve TLS");
        var tls = new TlsSettings { CertFile = FullPath(o.CertFile)!, KeyFile = FullPath(o.KeyFile ?? o.CertFile)!, CaCerts = FullPath(o.CaCerts) };
        var (problem, notAfter) = TlsServer.Check(tls);
        return problem != null ? (null, null, problem) : (tls, notAfter, null);
    }

    /// <summary>An app that is its own master: its workers are its own program again, with <paramref name="appArguments"/>.</summary>
    public (MasterConfig? Config, string? Error) AsOwnApp(string[] appArguments) =>
        WorkerTemplate.AppAssembly != null
            ? (null, "--app: this program is the app (it calls UsePrefork); name no other")
            : (this with { WorkerTemplate = WorkerTemplate with { AppKind = AppKind.Self, AppArguments = appArguments } }, null);

    /// <summary>
    /// The one place that tells the two kinds of --app apart: an app whose runtimeconfig names the ASP.NET Core
    /// framework is an ASP.NET Core app; any other assembly (with no runtimeconfig: a library) holds an IHttpApp.
    /// </summary>
    private static (AppKind Kind, string? Error) KindOf(string assembly)
    {
        var runtimeConfig = Path.ChangeExtension(assembly, ".runtimeconfig.json");
        if (!File.Exists(runtimeConfig)) return (AppKind.HttpApp, null);
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(runtimeConfig));
            var options = json.RootElement.GetProperty("runtimeOptions");
            List<JsonElement> frameworks = options.TryGetProperty("frameworks", out var list) ? list.EnumerateArray().ToList()
                : options.TryGetProperty("framework", out var one) ? [one]
                : [];
            bool aspNetCore = frameworks.Any(f => f.TryGetProperty("name", out var name) && name.GetString() == "Microsoft.AspNetCore.App");
            return (aspNetCore ? AppKind.AspNetCore : AppKind.HttpApp, null);
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or KeyNotFoundException)
        {
            return (AppKind.HttpApp, $"--app: cannot read {runtimeConfig}: {e.Message}");
        }
    }
}
