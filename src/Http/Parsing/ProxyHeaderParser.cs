using System.Buffers.Binary;
using System.Net;

namespace Prefork.Http;

/// <summary>Why a PROXY protocol header was refused; each is the sender's fault, and closes the connection.</summary>
internal enum ProxyHeaderError
{
    None,
    BadSignature,
    LineTooLong,
    BadLine,
    BadAddress,
    BadVersion,
    BadCommand,
    BadLength,
    BadTlv,
}

/// <summary>
/// A parsed PROXY header: <see cref="Source"/> is the client as the proxy saw it, and null when the header says the
/// connection is the proxy's own (v1 UNKNOWN, v2 LOCAL, or an address family with no IP: the socket's endpoints stand).
/// </summary>
internal readonly record struct ProxyHeader(ParseStatus Status, int Consumed, ProxyHeaderError Error, IPEndPoint? Source, IPEndPoint? Destination)
{
    /// <summary>The client reached the proxy over TLS: a v2 PP2_TYPE_SSL TLV with PP2_CLIENT_SSL (HAProxy's send-proxy-v2-ssl).</summary>
    public bool ClientTls { get; init; }

    public static ProxyHeader Incomplete => new(ParseStatus.Incomplete, 0, ProxyHeaderError.None, null, null);
    public static ProxyHeader Reject(ProxyHeaderError error) => new(ParseStatus.Rejected, 0, error, null, null);
}

/// <summary>
/// HAProxy's PROXY protocol (proxy-protocol.txt, versions 1 and 2), as a pure function over the bytes that have
/// arrived: incomplete, complete (with how many bytes the header took), or rejected. Like the request parser it
/// keeps no state, so a header split across reads parses the same as a whole one, and it refuses a header as
/// soon as the bytes so far cannot begin one, so a peer that is not a proxy is told at its first byte.
/// </summary>
internal static class ProxyHeaderParser
{
    // §2.1: a v1 line is at most 107 bytes, CRLF included.
    public const int MaxV1Line = 107;
    // §2.2: the fixed part of a v2 header; the length in its last two bytes counts what follows.
    private const int V2Fixed = 16;
    // The longest v2 header taken: addresses plus TLVs a balancer sends (HAProxy's SSL and unique-id TLVs are a
    // few hundred bytes); the protocol allows 64 KiB, which no connection should have to buffer before HTTP.
    public const int MaxV2Length = 4096;

    private static ReadOnlySpan<byte> V1Signature => "PROXY "u8;
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static ProxyHeader TryParse(ReadOnlySpan<byte> input)
    {
        if (StartsAs(input, V2Signature)) return input.Length < V2Signature.Length ? ProxyHeader.Incomplete : ParseV2(input);
        if (StartsAs(input, V1Signature)) return input.Length < V1Signature.Length ? ProxyHeader.Incomplete : ParseV1(input);
        return ProxyHeader.Reject(ProxyHeaderError.BadSignature);
    }

    // True while what has arrived is a prefix of the signature or begins with all of it.
    private static bool StartsAs(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) =>
        input.Length < signature.Length ? signature.StartsWith(input) : input.StartsWith(signature);

    /// <summary>§2.1: "PROXY TCP4|TCP6 source destination sport dport\r\n", or "PROXY UNKNOWN ...\r\n".</summary>
    private static ProxyHeader ParseV1(ReadOnlySpan<byte> input)
    {
        int lf = input[..Math.Min(input.Length, MaxV1Line)].IndexOf((byte)'\n');
        if (lf < 0) return input.Length >= MaxV1Line ? ProxyHeader.Reject(ProxyHeaderError.LineTooLong) : ProxyHeader.Incomplete;
        if (input[lf - 1] != '\r') return ProxyHeader.Reject(ProxyHeaderError.BadLine);
        var line = input[V1Signature.Length..(lf - 1)];
        var done = new ProxyHeader(ParseStatus.Complete, lf + 1, ProxyHeaderError.None, null, null);
        // §2.1: after UNKNOWN the receiver ignores the rest of the line and keeps the connection's own addresses.
        if (line.SequenceEqual("UNKNOWN"u8) || line.StartsWith("UNKNOWN "u8)) return done;

        Span<Range> fields = stackalloc Range[5];
        int count = 0;
        foreach (var field in line.Split((byte)' '))
        {
            if (count == fields.Length) return ProxyHeader.Reject(ProxyHeaderError.BadLine);
            fields[count++] = field;
        }
        if (count != fields.Length) return ProxyHeader.Reject(ProxyHeaderError.BadLine);
        var protocol = line[fields[0]];
        bool v4 = protocol.SequenceEqual("TCP4"u8);
        if (!v4 && !protocol.SequenceEqual("TCP6"u8)) return ProxyHeader.Reject(ProxyHeaderError.BadLine);
        if (!IpText.TryParse(line[fields[1]], out var source) || !IpText.TryParse(line[fields[2]], out var destination)
            || IsV4(source) != v4 || IsV4(destination) != v4
            || !IpText.TryParsePort(line[fields[3]], out int sourcePort) || !IpText.TryParsePort(line[fields[4]], out int destinationPort))
            return ProxyHeader.Reject(ProxyHeaderError.BadAddress);
        return done with { Source = new(source, sourcePort), Destination = new(destination, destinationPort) };
    }

    private static bool IsV4(IPAddress address) => address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;

    /// <summary>§2.2: signature, version and command, family and transport, length, addresses, then TLVs.</summary>
    private static ProxyHeader ParseV2(ReadOnlySpan<byte> input)
    {
        if (input.Length < V2Fixed) return ProxyHeader.Incomplete;
        int versionCommand = input[12], family = input[13] >> 4;
        int length = BinaryPrimitives.ReadUInt16BigEndian(input[14..]);
        if (versionCommand >> 4 != 2) return ProxyHeader.Reject(ProxyHeaderError.BadVersion);
        if ((versionCommand & 0xF) > 1) return ProxyHeader.Reject(ProxyHeaderError.BadCommand);
        // AF_INET: 4 + 4 + 2 + 2 bytes; AF_INET6: 16 + 16 + 2 + 2; AF_UNIX: two 108-byte paths; AF_UNSPEC: none.
        int addresses = family switch { 1 => 12, 2 => 36, 3 => 216, 0 => 0, _ => -1 };
        if (addresses < 0) return ProxyHeader.Reject(ProxyHeaderError.BadAddress);
        if (length < addresses || V2Fixed + length > MaxV2Length) return ProxyHeader.Reject(ProxyHeaderError.BadLength);
        if (input.Length < V2Fixed + length) return ProxyHeader.Incomplete;

        var done = new ProxyHeader(ParseStatus.Complete, V2Fixed + length, ProxyHeaderError.None, null, null);
        // LOCAL (command 0): the proxy's own connection, a health check; its addresses, if any, are ignored (§2.2).
        // An unspecified family defines nothing after the fixed part, so what follows is not read as TLVs either.
        if ((versionCommand & 0xF) == 0 || family == 0) return done;
        if (!TryReadTlvs(input[(V2Fixed + addresses)..(V2Fixed + length)], out bool clientTls)) return ProxyHeader.Reject(ProxyHeaderError.BadTlv);
        done = done with { ClientTls = clientTls };
        // A Unix-socket family carries no IP address to stand for the client's.
        if (family == 3) return done;
        var block = input.Slice(V2Fixed, addresses);
        int size = family == 1 ? 4 : 16;
        var source = new IPAddress(block[..size]);
        var destination = new IPAddress(block.Slice(size, size));
        int sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * size)..]);
        int destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * size + 2)..]);
        return done with { Source = new(source, sourcePort), Destination = new(destination, destinationPort) };
    }

    // §2.2.5: PP2_TYPE_SSL's value is a client flags byte (PP2_CLIENT_SSL: the client used TLS), a 32-bit verify
    // result, then sub-TLVs (version, CN, cipher, ...) in the same type-length-value form.
    private const byte TypeSsl = 0x20, ClientSsl = 0x01;
    private const int SslFixed = 5;

    /// <summary>
    /// Walks the TLVs after the addresses (§2.2: a type byte, a big-endian 16-bit length, the value): false when
    /// one runs past the end of the header, or one of the SSL TLV's sub-TLVs past the end of the SSL TLV. Types
    /// not known here are skipped, as §2.2 asks.
    /// </summary>
    private static bool TryReadTlvs(ReadOnlySpan<byte> tlvs, out bool clientTls)
    {
        clientTls = false;
        while (NextTlv(ref tlvs, out byte type, out var value))
        {
            if (type != TypeSsl) continue;
            if (value.Length < SslFixed) return false;
            var sub = value[SslFixed..];
            while (NextTlv(ref sub, out _, out _)) { }
            if (!sub.IsEmpty) return false;
            clientTls = (value[0] & ClientSsl) != 0;
        }
        return tlvs.IsEmpty;
    }

    /// <summary>Takes the TLV <paramref name="rest"/> starts with; false, and <paramref name="rest"/> unchanged, when it is empty or its first TLV is cut short.</summary>
    private static bool NextTlv(ref ReadOnlySpan<byte> rest, out byte type, out ReadOnlySpan<byte> value)
    {
        type = 0;
        value = default;
        if (rest.Length < 3 || rest.Length < 3 + BinaryPrimitives.ReadUInt16BigEndian(rest[1..])) return false;
        type = rest[0];
        value = rest.Slice(3, BinaryPrimitives.ReadUInt16BigEndian(rest[1..]));
        rest = rest[(3 + value.Length)..];
        return true;
    }

    public static string Describe(this ProxyHeaderError error) => error switch
    {
        ProxyHeaderError.BadSignature => "not a PROXY protocol header",
        ProxyHeaderError.LineTooLong => $"v1 line longer than {MaxV1Line} bytes",
        ProxyHeaderError.BadLine => "malformed v1 line",
        ProxyHeaderError.BadAddress => "bad address or port",
        ProxyHeaderError.BadVersion => "unknown version",
        ProxyHeaderError.BadCommand => "unknown command",
        ProxyHeaderError.BadLength => $"address block shorter than its family, or header longer than {MaxV2Length} bytes",
        ProxyHeaderError.BadTlv => "a TLV runs past the end of the header (or of the SSL TLV it is in)",
        _ => "none",
    };
}
