using System.Net;
using System.Net.Sockets;

namespace Prefork.Master;

/// <summary>
/// One --bind value: a TCP host and port, or a Unix socket path, either one marked https:// (TLS) or http://
/// (plain), or not marked. An unmarked bind is TLS when --certfile is given and no bind is marked https://
/// (as in gunicorn, where a certificate makes every bind TLS); MasterConfig settles it (<see cref="Tls"/>).
/// </summary>
public sealed record BindAddress(string Text, EndPoint EndPoint)
{
    public const int DefaultPort = 8888;

    public bool IsUnix => EndPoint is UnixDomainSocketEndPoint;

    /// <summary>True: https://; false: http://; null: not marked (until MasterConfig settles it).</summary>
    public bool? Tls { get; init; }

    public bool IsTls => Tls == true;

    public static bool TryParse(string text, out BindAddress? bind, out string? error)
    {
        bool? tls = text.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? true
            : text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? false
            : null;
        bool parsed = TryParseAddress(tls == null ? text : text[(tls.Value ? "https://" : "http://").Length..], out bind, out error);
        if (bind != null) bind = bind with { Text = text, Tls = tls };
        return parsed;
    }

    private static bool TryParseAddress(string text, out BindAddress? bind, out string? error)
    {
        bind = null;
        error = null;
        if (text.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = text["unix:".Length..];
            if (path.Length == 0) { error = "unix: needs a path"; return false; }
            bind = new BindAddress(text, new UnixDomainSocketEndPoint(path));
            return true;
        }

        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0) { error = "missing ']' after the IPv6 address"; return false; }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':') { error = "expected ':PORT' after ']'"; return false; }
                portText = rest[1..];
            }
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':') != colon) { error = "an IPv6 address goes in brackets: [::1]:8888"; return false; }
            host = colon < 0 ? text : text[..colon];
            portText = colon < 0 ? null : text[(colon + 1)..];
        }

        int port = DefaultPort;
        if (portText != null && (!int.TryParse(portText, out port) || port < 0 || port > 65535))
        {
            error = $"'{portText}' is not a port number (0-65535)";
            return false;
        }
        if (host.Length == 0) host = "0.0.0.0";

        if (!IPAddress.TryParse(host, out var address))
        {
            try
            {
                var addresses = Dns.GetHostAddresses(host);
                address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            }
            catch (SocketException)
            {
                address = null;
            }
            if (address == null) { error = $"cannot resolve host '{host}'"; return false; }
        }
        bind = new BindAddress(text, new IPEndPoint(address, port));
        return true;
    }
}
