namespace Prefork.Http;

/// <summary>How a client's side ended its connection badly; counted, and logged at debug only.</summary>
public enum ClientError { Reset, BrokenPipe, Timeout, Other, TlsHandshake, ProxyHeader }

public static class ClientErrorLabels
{
    /// <summary>The metric label of each <see cref="ClientError"/>, in its order.</summary>
    public static readonly string[] All = ["reset", "broken_pipe", "timeout", "other", "tls_handshake", "proxy_header"];

    public static string Label(this ClientError kind) => All[(int)kind];
}
