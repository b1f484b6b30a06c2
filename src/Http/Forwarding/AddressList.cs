using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Prefork.Http;

/// <summary>
/// Peers allowed to speak for their clients (--proxy-allow-from, --forwarded-allow-ips): comma-separated addresses
/// and CIDR networks, or "*" for every peer, as gunicorn writes them. A network with bits set past its prefix
/// ("10.1.2.3/8") is refused rather than read as the network it is probably meant to be, as gunicorn does. Travels
/// to workers as its text and is read again there.
/// </summary>
[JsonConverter(typeof(AddressListJson))]
public sealed class AddressList : IEquatable<AddressList>
{
    /// <summary>gunicorn's default for both lists: only a proxy on this machine.</summary>
    public const string LocalOnly = "127.0.0.1,::1";

    private readonly IPNetwork[] _networks;
    private readonly bool _everyone;

    private AddressList(string text, IPNetwork[] networks, bool everyone)
    {
        Text = text;
        _networks = networks;
        _everyone = everyone;
    }

    public static AddressList Default { get; } = Parse(LocalOnly);

    /// <summary>The list as it was written.</summary>
    public string Text { get; }

    public static AddressList Parse(string text) =>
        TryParse(text, out var list, out var error) ? list! : throw new FormatException(error);

    /// <summary>Reads a list; on failure, <paramref name="error"/> names the entry and what is wrong with it, in one line.</summary>
    public static bool TryParse(string text, out AddressList? list, out string? error)
    {
        list = null;
        error = null;
        var networks = new List<IPNetwork>();
        bool everyone = false;
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry == "*")
            {
                everyone = true;
                continue;
            }
            int slash = entry.IndexOf('/');
            var addressText = Encoding.ASCII.GetBytes(slash < 0 ? entry : entry[..slash]);
            if (!IpText.TryParse(addressText, out var address))
            {
                error = $"'{entry}' is not an IP address or network (a.b.c.d, an IPv6 address, either with /PREFIX, or *)";
                return false;
            }
            int max = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
            int prefix = max;
            if (slash >= 0 && (!IpText.TryParsePort(Encoding.ASCII.GetBytes(entry[(slash + 1)..]), out prefix) || prefix > max))
            {
                error = $"'{entry}': the prefix must be a number from 0 to {max}";
                return false;
            }
            var network = new IPNetwork(Masked(address, prefix), prefix);
            if (!network.BaseAddress.Equals(address))
            {
                error = $"'{entry}' has bits set past its /{prefix} (the network is {network})";
                return false;
            }
            networks.Add(network);
        }
        list = new AddressList(text, [.. networks], everyone);
        return true;
    }

    /// <summary>
    /// True when <paramref name="peer"/> is on the list. An IPv4 client of a dual-stack socket (::ffff:a.b.c.d) is
    /// matched as the IPv4 address it is.
    /// </summary>
    public bool Contains(IPAddress peer)
    {
        if (_everyone) return true;
        if (peer.IsIPv4MappedToIPv6) peer = peer.MapToIPv4();
        foreach (var network in _networks)
        {
            if (network.Contains(peer)) return true;
        }
        return false;
    }

    private static IPAddress Masked(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (int bit = prefix; bit < bytes.Length * 8; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        return new IPAddress(bytes);
    }

    public bool Equals(AddressList? other) => other != null && other.Text == Text;
    public override bool Equals(object? obj) => Equals(obj as AddressList);
    public override int GetHashCode() => Text.GetHashCode();
    public override string ToString() => Text;
}

/// <summary>An <see cref="AddressList"/> in JSON: its text.</summary>
public sealed class AddressListJson : JsonConverter<AddressList>
{
    public override AddressList Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString() ?? throw new JsonException("an address list is a string");
        return AddressList.TryParse(text, out var list, out var error) ? list! : throw new JsonException(error);
    }

    public override void Write(Utf8JsonWriter writer, AddressList value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text);
}
