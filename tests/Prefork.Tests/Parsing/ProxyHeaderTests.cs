using System.Buffers.Binary;
using System.Net;
using System.Text;
using Prefork.Http;

namespace Prefork.Tests.Parsing;

/// <summary>
/// A corpus of raw PROXY protocol headers (HAProxy's proxy-protocol.txt), each fed whole, byte by byte and at every
/// split, with the HTTP bytes that follow it: the parser decides the same way however the header arrives, and
/// takes exactly the header.
/// </summary>
public class ProxyHeaderTests
{
    private static readonly byte[] Http = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray();

    // name, the header, what it should give: the client ("address:port"), "-" for the connection's own, or an error;
    // " tls" when the header says the client reached the proxy over TLS.
    public static TheoryData<string, byte[], string> Corpus => new()
    {
        { "v1_tcp4", V1("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443"), "192.0.2.10:56324" },
        { "v1_tcp6", V1("PROXY TCP6 2001:db8::1 2001:db8::2 1234 80"), "[2001:db8::1]:1234" },
        { "v1_port_bounds", V1("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535"), "0.0.0.0:0" },
        { "v1_unknown", V1("PROXY UNKNOWN"), "-" },
        { "v1_unknown_with_addresses", V1("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535"), "-" },
        { "v1_longest_line", V1("PROXY UNKNOWN " + new string('x', ProxyHeaderParser.MaxV1Line - 16)), "-" },
        { "v1_line_too_long", Encoding.ASCII.GetBytes("PROXY UNKNOWN " + new string('x', ProxyHeaderParser.MaxV1Line)), nameof(ProxyHeaderError.LineTooLong) },
        { "v1_tcp4_with_ipv6", V1("PROXY TCP4 2001:db8::1 192.0.2.1 1 2"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_tcp6_with_ipv4", V1("PROXY TCP6 192.0.2.1 192.0.2.2 1 2"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_short_ipv4", V1("PROXY TCP4 127.1 127.0.0.1 1 2"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_octal_ipv4", V1("PROXY TCP4 010.0.0.1 127.0.0.1 1 2"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_ipv6_zone", V1("PROXY TCP6 fe80::1%eth0 fe80::2 1 2"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_port_leading_zero", V1("PROXY TCP4 192.0.2.1 192.0.2.2 0443 80"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_port_too_large", V1("PROXY TCP4 192.0.2.1 192.0.2.2 65536 80"), nameof(ProxyHeaderError.BadAddress) },
        { "v1_missing_port", V1("PROXY TCP4 192.0.2.1 192.0.2.2 80"), nameof(ProxyHeaderError.BadLine) },
        { "v1_extra_field", V1("PROXY TCP4 192.0.2.1 192.0.2.2 80 80 80"), nameof(ProxyHeaderError.BadLine) },
        { "v1_double_space", V1("PROXY TCP4  192.0.2.1 192.0.2.2 80 80"), nameof(ProxyHeaderError.BadLine) },
        { "v1_udp", V1("PROXY UDP4 192.0.2.1 192.0.2.2 80 80"), nameof(ProxyHeaderError.BadLine) },
        { "v1_bare_lf", "PROXY TCP4 192.0.2.1 192.0.2.2 80 80\n"u8.ToArray(), nameof(ProxyHeaderError.BadLine) },
        { "v1_lowercase", V1("proxy TCP4 192.0.2.1 192.0.2.2 80 80"), nameof(ProxyHeaderError.BadSignature) },
        { "plain_http", "GET / HTTP/1.1\r\n"u8.ToArray(), nameof(ProxyHeaderError.BadSignature) },
        { "tls_client_hello", [0x16, 0x03, 0x01, 0x00, 0xC8], nameof(ProxyHeaderError.BadSignature) },
        { "v2_proxy_inet", V2(0x21, 0x11, [.. Ip("203.0.113.7"), .. Ip("192.0.2.1"), .. Port(40000), .. Port(443)]), "203.0.113.7:40000" },
        { "v2_proxy_inet6", V2(0x21, 0x21, [.. Ip("2001:db8::7"), .. Ip("2001:db8::1"), .. Port(1), .. Port(80)]), "[2001:db8::7]:1" },
        { "v2_proxy_inet_with_tlvs", V2(0x21, 0x11, [.. Ip("203.0.113.8"), .. Ip("192.0.2.1"), .. Port(5), .. Port(6),
            0x01, 0x00, 0x02, (byte)'h', (byte)'2', 0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00]), "203.0.113.8:5 tls" },
        // HAProxy's send-proxy-v2-ssl-cn: PP2_TYPE_SSL with the client flags, verify, then version and CN sub-TLVs.
        { "v2_ssl_with_version_and_cn", V2(0x21, 0x11, [.. Inet("198.51.100.20", 4711),
            .. Ssl(0x07, Tlv(0x21, "TLSv1.3"u8), Tlv(0x22, "client.example"u8))]), "198.51.100.20:4711 tls" },
        { "v2_ssl_inet6", V2(0x21, 0x21, [.. Ip("2001:db8::9"), .. Ip("2001:db8::1"), .. Port(2), .. Port(443), .. Ssl(0x01)]), "[2001:db8::9]:2 tls" },
        { "v2_ssl_after_other_tlvs", V2(0x21, 0x11, [.. Inet("198.51.100.21", 1), .. Tlv(0x05, [1, 2, 3]), .. Tlv(0x04, []), .. Ssl(0x01)]), "198.51.100.21:1 tls" },
        { "v2_ssl_flag_unset", V2(0x21, 0x11, [.. Inet("198.51.100.22", 1), .. Ssl(0x00, Tlv(0x21, "TLSv1.2"u8))]), "198.51.100.22:1" },
        { "v2_ssl_client_certificate_only", V2(0x21, 0x11, [.. Inet("198.51.100.23", 1), .. Ssl(0x06)]), "198.51.100.23:1" },
        { "v2_ssl_unix", V2(0x21, 0x31, [.. new byte[216], .. Ssl(0x01)]), "- tls" },
        { "v2_ssl_local_ignored", V2(0x20, 0x11, [.. Inet("198.51.100.24", 1), .. Ssl(0x01)]), "-" },
        { "v2_tlv_past_the_end", V2(0x21, 0x11, [.. Inet("198.51.100.25", 1), 0x04, 0x00, 0x0A, 1, 2, 3, 4]), nameof(ProxyHeaderError.BadTlv) },
        { "v2_tlv_cut_in_its_header", V2(0x21, 0x11, [.. Inet("198.51.100.26", 1), .. Tlv(0x04, [9]), 0x20, 0x00]), nameof(ProxyHeaderError.BadTlv) },
        { "v2_ssl_shorter_than_flags_and_verify", V2(0x21, 0x11, [.. Inet("198.51.100.27", 1), .. Tlv(0x20, [0x01, 0, 0, 0])]), nameof(ProxyHeaderError.BadTlv) },
        { "v2_ssl_sub_tlv_past_the_ssl_tlv", V2(0x21, 0x11, [.. Inet("198.51.100.28", 1),
            .. Tlv(0x20, [0x01, 0, 0, 0, 0, 0x22, 0x00, 0x08, (byte)'c', (byte)'n']), .. Tlv(0x04, [0, 0, 0, 0, 0, 0])]), nameof(ProxyHeaderError.BadTlv) },
        { "v2_proxy_udp", V2(0x21, 0x12, [.. Ip("203.0.113.9"), .. Ip("192.0.2.1"), .. Port(7), .. Port(8)]), "203.0.113.9:7" },
        { "v2_local_inet", V2(0x20, 0x11, [.. Ip("203.0.113.7"), .. Ip("192.0.2.1"), .. Port(1), .. Port(2)]), "-" },
        { "v2_local_unspec", V2(0x20, 0x00, []), "-" },
        { "v2_proxy_unspec", V2(0x21, 0x00, [1, 2, 3]), "-" },
        { "v2_proxy_unix", V2(0x21, 0x31, new byte[216]), "-" },
        { "v2_version_1", V2(0x11, 0x11, new byte[12]), nameof(ProxyHeaderError.BadVersion) },
        { "v2_command_2", V2(0x22, 0x11, new byte[12]), nameof(ProxyHeaderError.BadCommand) },
        { "v2_family_4", V2(0x21, 0x41, new byte[12]), nameof(ProxyHeaderError.BadAddress) },
        { "v2_inet_short", V2(0x21, 0x11, new byte[8]), nameof(ProxyHeaderError.BadLength) },
        { "v2_inet6_short", V2(0x21, 0x21, new byte[12]), nameof(ProxyHeaderError.BadLength) },
        { "v2_too_long", V2(0x21, 0x11, new byte[ProxyHeaderParser.MaxV2Length]), nameof(ProxyHeaderError.BadLength) },
        { "v2_bad_signature", [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B, 0x21, 0x11, 0, 12], nameof(ProxyHeaderError.BadSignature) },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Each_header_parses_the_same_however_it_is_split(string name, byte[] header, string expected)
    {
        byte[] input = [.. header, .. Http];
        var whole = ProxyHeaderParser.TryParse(input);
        Assert.Equal(expected, Show(whole));
        if (whole.Status == ParseStatus.Complete) Assert.Equal(header.Length, whole.Consumed);

        // Every shorter prefix is either not yet decided or refused for the same reason, never accepted.
        for (int n = 0; n < header.Length; n++)
        {
            var part = ProxyHeaderParser.TryParse(input.AsSpan(0, n));
            Assert.True(part.Status == ParseStatus.Incomplete || (part.Status == ParseStatus.Rejected && Show(part) == expected),
                $"{name}: the first {n} bytes gave {Show(part)}");
        }
        foreach (var (chunking, ends) in Feeding.Chunkings(input, name.Length))
        {
            var fed = ProxyHeader.Incomplete;
            foreach (int end in ends)
            {
                fed = ProxyHeaderParser.TryParse(input.AsSpan(0, end));
                if (fed.Status != ParseStatus.Incomplete) break;
            }
            Assert.True(Show(fed) == expected, $"{name}, fed {chunking}: {Show(fed)}");
        }
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.1 192.0.2.2 80")]
    [InlineData("PROXY")]
    [InlineData("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0C\xCB\x00")]
    [InlineData("")]
    public void A_truncated_header_waits_for_more(string prefix)
    {
        Assert.Equal(ParseStatus.Incomplete, ProxyHeaderParser.TryParse(Encoding.Latin1.GetBytes(prefix)).Status);
    }

    [Fact]
    public void A_refused_header_is_refused_at_its_first_wrong_byte()
    {
        Assert.Equal(ProxyHeaderError.BadSignature, ProxyHeaderParser.TryParse("G"u8).Error);
        Assert.Equal(ProxyHeaderError.BadSignature, ProxyHeaderParser.TryParse("\r\n\r\n\r"u8).Error);
    }

    private static string Show(ProxyHeader header) => header.Status switch
    {
        ParseStatus.Complete => (header.Source?.ToString() ?? "-") + (header.ClientTls ? " tls" : ""),
        ParseStatus.Rejected => header.Error.ToString(),
        _ => "incomplete",
    };

    private static byte[] V1(string line) => Encoding.ASCII.GetBytes(line + "\r\n");

    private static byte[] V2(byte versionCommand, byte family, byte[] rest)
    {
        byte[] header = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, versionCommand, family, 0, 0, .. rest];
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)rest.Length);
        return header;
    }

    /// <summary>An AF_INET address block: the source, to 192.0.2.1:443.</summary>
    private static byte[] Inet(string source, int port) => [.. Ip(source), .. Ip("192.0.2.1"), .. Port(port), .. Port(443)];

    private static byte[] Tlv(byte type, ReadOnlySpan<byte> value) => [type, (byte)(value.Length >> 8), (byte)value.Length, .. value];

    /// <summary>PP2_TYPE_SSL: the client flags, a verify result of 0 (success), then the sub-TLVs.</summary>
    private static byte[] Ssl(byte client, params byte[][] subTlvs) => Tlv(0x20, [client, 0, 0, 0, 0, .. subTlvs.SelectMany(t => t)]);

    private static byte[] Ip(string address) => IPAddress.Parse(address).GetAddressBytes();

    private static byte[] Port(int port) => [(byte)(port >> 8), (byte)port];
}
