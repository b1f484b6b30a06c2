using System.Buffers;
using System.Text;
using Prefork.App;

namespace Prefork.Http;

/// <summary>Character classes and small byte comparisons from RFC 9110 §5.6, used by the parser and the decoder.</summary>
internal static class HttpChars
{
    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static readonly SearchValues<byte> TokenChars = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static bool IsToken(ReadOnlySpan<byte> s) => !s.IsEmpty && !s.ContainsAnyExcept(TokenChars);

    public static bool IsTokenChar(byte b) => TokenChars.Contains(b);

    /// <summary>
    /// A Host field's value (RFC 9110 §7.2): uri-host [":" port], or empty for a target without an authority. RFC 9112
    /// §3.2 has a server answer 400 to any other; a host checked only for its characters would pass "a:b:c" or
    /// "[::1" on to an app that builds links or looks up tenants from it.
    /// </summary>
    public static bool IsHost(ReadOnlySpan<byte> s) => s.IsEmpty || IsAuthority(s, portRequired: false);

    // unreserved and sub-delims of RFC 3986 §2: what a reg-name is made of, besides pct-encoded octets.
    private static readonly SearchValues<byte> RegNameChars = SearchValues.Create(
        "-._~!$&'()*+,;=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly SearchValues<byte> HexDigits = SearchValues.Create("0123456789ABCDEFabcdef"u8);

    // What may follow "v" HEXDIG "." in an IPvFuture literal, RFC 3986 §3.2.2.
    private static readonly SearchValues<byte> IpFutureChars = SearchValues.Create(
        "-._~!$&'()*+,;=:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>
    /// The authority of an absolute-form target (RFC 9112 §3.2.2) or, with <paramref name="portRequired"/>, a
    /// CONNECT's authority-form (§3.2.3): a host that is not empty, then ":" port. No userinfo: RFC 9110 §4.2.4
    /// has a recipient treat it as an error, since "http://trusted@evil/" is how phishing hides a host.
    /// </summary>
    public static bool IsAuthority(ReadOnlySpan<byte> s, bool portRequired)
    {
        ReadOnlySpan<byte> rest;
        if (!s.IsEmpty && s[0] == (byte)'[')
        {
            int close = s.IndexOf((byte)']');
            if (close < 0 || !IsIpLiteral(s[1..close])) return false;
            rest = s[(close + 1)..];
        }
        else
        {
            int colon = s.IndexOf((byte)':');
            var host = colon < 0 ? s : s[..colon];
            if (host.IsEmpty || !IsRegName(host)) return false;
            rest = s[host.Length..];
        }
        if (rest.IsEmpty) return !portRequired;
        if (rest[0] != (byte)':') return false;
        var port = rest[1..];
        if (port.IsEmpty) return !portRequired;
        return TryParseDecimal(port, out long number) && port.Length <= 5 && number <= 65535 && (number > 0 || !portRequired);
    }

    /// <summary>Between the brackets: an IPv6 address without a zone, or IPvFuture ("v" 1*HEXDIG "." 1*(...)).</summary>
    private static bool IsIpLiteral(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty || (s[0] | 0x20) != (byte)'v') return s.Contains((byte)':') && IpText.TryParse(s, out _);
        int dot = s.IndexOf((byte)'.');
        return dot > 1 && dot < s.Length - 1 && !s[1..dot].ContainsAnyExcept(HexDigits) && !s[(dot + 1)..].ContainsAnyExcept(IpFutureChars);
    }

    private static bool IsRegName(ReadOnlySpan<byte> s)
    {
        for (int i = s.IndexOfAnyExcept(RegNameChars); i >= 0; i = s.IndexOfAnyExcept(RegNameChars))
        {
            // pct-encoded = "%" HEXDIG HEXDIG
            if (s[i] != (byte)'%' || i + 2 >= s.Length || !char.IsAsciiHexDigit((char)s[i + 1]) || !char.IsAsciiHexDigit((char)s[i + 2])) return false;
            s = s[(i + 3)..];
        }
        return true;
    }

    /// <summary>field-value: VCHAR, obs-text, SP and HTAB; never NUL, CR, LF or another control character.</summary>
    public static bool IsFieldValue(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F) return false;
        }
        return true;
    }

    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> s) => s.Trim(" \t"u8);

    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => Ascii.EqualsIgnoreCase(a, b);

    public static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> prefix) =>
        s.Length >= prefix.Length && Ascii.EqualsIgnoreCase(s[..prefix.Length], prefix);

    /// <summary>1*DIGIT with no sign, no spaces and no overflow (RFC 9110 §8.6).</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 18) return false;
        foreach (var b in s)
        {
            if (b < (byte)'0' || b > (byte)'9') return false;
            value = value * 10 + (b - (byte)'0');
        }
        return true;
    }

    /// <summary>Codings in the IANA registry that this server knows of but does not decode (RFC 9112 §7).</summary>
    public static bool IsRegisteredCoding(ReadOnlySpan<byte> coding) =>
        EqualsIgnoreCase(coding, "gzip"u8) || EqualsIgnoreCase(coding, "x-gzip"u8) || EqualsIgnoreCase(coding, "deflate"u8)
        || EqualsIgnoreCase(coding, "compress"u8) || EqualsIgnoreCase(coding, "x-compress"u8);

    public static Method ParseMethod(ReadOnlySpan<byte> s) => s switch
    {
        _ when s.SequenceEqual("GET"u8) => Method.Get,
        _ when s.SequenceEqual("HEAD"u8) => Method.Head,
        _ when s.SequenceEqual("POST"u8) => Method.Post,
        _ when s.SequenceEqual("PUT"u8) => Method.Put,
        _ when s.SequenceEqual("DELETE"u8) => Method.Delete,
        _ when s.SequenceEqual("OPTIONS"u8) => Method.Options,
        _ when s.SequenceEqual("TRACE"u8) => Method.Trace,
        _ when s.SequenceEqual("PATCH"u8) => Method.Patch,
        _ when s.SequenceEqual("CONNECT"u8) => Method.Connect,
        _ => Method.Other,
    };
}
