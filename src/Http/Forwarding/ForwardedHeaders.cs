using System.Net;
using System.Text;
using Prefork.App;

namespace Prefork.Http;

/// <summary>
/// What a trusted proxy's X-Forwarded-For and X-Forwarded-Proto say, read from a parsed head; pure functions,
/// asked only for a request whose peer is trusted (<see cref="ProxyTrust.ForwardedAllowIps"/>).
/// </summary>
internal static class ForwardedHeaders
{
    private static ReadOnlySpan<byte> For => "X-Forwarded-For"u8;
    private static ReadOnlySpan<byte> Proto => "X-Forwarded-Proto"u8;

    /// <summary>True when the head has an X-Forwarded-For or an X-Forwarded-Proto field.</summary>
    public static bool AnyIn(RequestHead head)
    {
        for (int i = 0; i < head.HeaderCount; i++)
        {
            var name = head.HeaderName(i);
            if (Ascii.EqualsIgnoreCase(name, For) || Ascii.EqualsIgnoreCase(name, Proto)) return true;
        }
        return false;
    }

    /// <summary>
    /// The client, as nginx's real_ip_recursive finds it: X-Forwarded-For read from its right end (the entry the
    /// nearest proxy added) towards its left, past every address that is itself a trusted proxy; the first one that
    /// is not is the client. When all are trusted, the leftmost is. An entry that is not an address ("unknown")
    /// ends the walk at the last address it reached. Several fields read as one list, in order (RFC 9110 §5.3).
    /// Null: no address at all, and the peer stays the client.
    /// </summary>
    public static IPEndPoint? Client(RequestHead head, AddressList trusted)
    {
        IPEndPoint? reached = null;
        for (int i = head.HeaderCount - 1; i >= 0; i--)
        {
            if (!Ascii.EqualsIgnoreCase(head.HeaderName(i), For)) continue;
            for (var rest = head.HeaderValue(i); ; )
            {
                int comma = rest.LastIndexOf((byte)',');
                var entry = rest[(comma + 1)..].Trim(" \t"u8);
                // RFC 9110 §5.6.1: empty list elements are allowed, and count for nothing.
                if (entry.Length > 0)
                {
                    if (!IpText.TryParseWithPort(entry, out var address, out int port)) return reached;
                    reached = new IPEndPoint(address, port);
                    if (!trusted.Contains(address)) return reached;
                }
                if (comma < 0) break;
                rest = rest[..comma];
            }
        }
        return reached;
    }

    /// <summary>"http" or "https", as the last entry of the last X-Forwarded-Proto says (what the nearest proxy saw); null for none or anything else.</summary>
    public static string? Scheme(RequestHead head)
    {
        for (int i = head.HeaderCount - 1; i >= 0; i--)
        {
            if (!Ascii.EqualsIgnoreCase(head.HeaderName(i), Proto)) continue;
            var value = head.HeaderValue(i);
            var last = value[(value.LastIndexOf((byte)',') + 1)..].Trim(" \t"u8);
            return Ascii.EqualsIgnoreCase(last, "https"u8) ? "https" : Ascii.EqualsIgnoreCase(last, "http"u8) ? "http" : null;
        }
        return null;
    }
}
