using System.Net;
using System.Net.Sockets;

namespace Prefork.Http;

/// <summary>
/// IP addresses written as text, read strictly: IPv4 only as four decimal parts ("127.1", "0x7f.0.0.1" and
/// "010.0.0.1", which IPAddress.Parse takes, name addresses nobody meant), IPv6 without a zone. The one reading of
/// addresses a client or a proxy sends (PROXY v1, X-Forwarded-For) and of the allow lists on the command line.
/// </summary>
internal static class IpText
{
    public static bool TryParse(ReadOnlySpan<byte> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Contains((byte)':'))
        {
            if (text.Contains((byte)'%') || !IPAddress.TryParse(text, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6) return false;
            address = v6;
            return true;
        }
        Span<byte> parts = stackalloc byte[4];
        int part = 0, value = 0, digits = 0;
        foreach (byte b in text)
        {
            if (b == '.')
            {
                if (digits == 0 || part == 3) return false;
                parts[part++] = (byte)value;
                value = digits = 0;
            }
            else if (b is >= (byte)'0' and <= (byte)'9' && !(digits == 1 && value == 0))
            {
                value = value * 10 + (b - '0');
                if (++digits > 3 || value > 255) return false;
            }
            else
            {
                return false;
            }
        }
        if (part != 3 || digits == 0) return false;
        parts[3] = (byte)value;
        address = new IPAddress(parts);
        return true;
    }

    /// <summary>
    /// An address with an optional port, as proxies write X-Forwarded-For entries: "192.0.2.1", "192.0.2.1:4711",
    /// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711". Port 0 when none is given.
    /// </summary>
    public static bool TryParseWithPort(ReadOnlySpan<byte> text, out IPAddress address, out int port)
    {
        port = 0;
        address = IPAddress.None;
        int colon = text.LastIndexOf((byte)':');
        if (text.StartsWith("["u8))
        {
            int close = text.IndexOf((byte)']');
            if (close < 0) return false;
            var after = text[(close + 1)..];
            if (after.Length > 0 && !(after[0] == ':' && TryParsePort(after[1..], out port))) return false;
            return TryParse(text[1..close], out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }
        // One colon: IPv4 and a port. More: an IPv6 address alone (its last group would be read as a port otherwise).
        if (colon > 0 && text[..colon].IndexOf((byte)':') < 0)
            return TryParsePort(text[(colon + 1)..], out port) && TryParse(text[..colon], out address);
        return TryParse(text, out address);
    }

    /// <summary>A decimal port, 0 to 65535, without leading zeros (PROXY v1 §2.1 asks that of its ports).</summary>
    public static bool TryParsePort(ReadOnlySpan<byte> text, out int port)
    {
        port = 0;
        if (text.Length is 0 or > 5 || (text[0] == '0' && text.Length > 1)) return false;
        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            port = port * 10 + (b - '0');
        }
        return port <= 65535;
    }
}
