using System.Net;
using System.Text;
using Prefork.App;
using Prefork.Http;

namespace Prefork.Tests.Parsing;

/// <summary>The allow lists of the command line, and what X-Forwarded-For and X-Forwarded-Proto are read to say.</summary>
public class ForwardedHeadersTests
{
    [Theory]
    [InlineData("127.0.0.1,::1", "127.0.0.1", true)]
    [InlineData("127.0.0.1,::1", "::1", true)]
    [InlineData("127.0.0.1,::1", "::ffff:127.0.0.1", true)]
    [InlineData("127.0.0.1,::1", "127.0.0.2", false)]
    [InlineData("10.0.0.0/8, 192.168.1.5", "10.200.3.4", true)]
    [InlineData("10.0.0.0/8, 192.168.1.5", "11.0.0.1", false)]
    [InlineData("10.0.0.0/8, 192.168.1.5", "192.168.1.5", true)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("0.0.0.0/0", "203.0.113.1", true)]
    [InlineData("*", "2001:db8::1", true)]
    [InlineData("", "127.0.0.1", false)]
    public void A_list_holds_its_addresses_and_networks(string list, string address, bool held)
    {
        Assert.Equal(held, AddressList.Parse(list).Contains(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("10.0.0.0/33", "the prefix must be a number from 0 to 32")]
    [InlineData("10.1.2.3/8", "has bits set past its /8 (the network is 10.0.0.0/8)")]
    [InlineData("10.0.0.0/", "the prefix must be")]
    [InlineData("localhost", "is not an IP address or network")]
    [InlineData("127.1", "is not an IP address or network")]
    [InlineData("::1/129", "from 0 to 128")]
    public void A_bad_entry_is_refused_with_one_line_naming_it(string list, string why)
    {
        Assert.False(AddressList.TryParse(list, out _, out var error));
        Assert.Contains(why, error);
        Assert.Contains(list, error);
    }

    // The peer is trusted in each case; "10.0.0.0/8" stands for the proxies in front of it.
    [Theory]
    [InlineData("X-Forwarded-For: 203.0.113.5", "203.0.113.5:0")]
    [InlineData("X-Forwarded-For: 198.51.100.1, 203.0.113.5", "203.0.113.5:0")]
    [InlineData("X-Forwarded-For: 198.51.100.1, 203.0.113.5, 10.0.0.2", "203.0.113.5:0")]
    [InlineData("X-Forwarded-For: 10.0.0.3, 10.0.0.2", "10.0.0.3:0")]
    [InlineData("X-Forwarded-For: 198.51.100.1|X-Forwarded-For: 203.0.113.5, 10.0.0.2", "203.0.113.5:0")]
    [InlineData("X-Forwarded-For: 198.51.100.1|X-Forwarded-For: 10.0.0.2", "198.51.100.1:0")]
    [InlineData("X-Forwarded-For: 203.0.113.5:4711", "203.0.113.5:4711")]
    [InlineData("X-Forwarded-For: [2001:db8::5]:4711", "[2001:db8::5]:4711")]
    [InlineData("X-Forwarded-For: 2001:db8::5", "[2001:db8::5]:0")]
    [InlineData("X-Forwarded-For: 203.0.113.5,, 10.0.0.2 ,", "203.0.113.5:0")]
    [InlineData("X-Forwarded-For: unknown, 10.0.0.2", "10.0.0.2:0")]
    [InlineData("X-Forwarded-For: unknown", "-")]
    [InlineData("X-Forwarded-For: 203.0.113.5, evil", "-")]
    [InlineData("x-forwarded-for: 203.0.113.5", "203.0.113.5:0")]
    [InlineData("X-Real-IP: 203.0.113.5", "-")]
    public void The_client_is_the_rightmost_address_that_is_not_a_trusted_proxy(string headers, string client)
    {
        var found = ForwardedHeaders.Client(Head(headers), AddressList.Parse("10.0.0.0/8"));
        Assert.Equal(client, found?.ToString() ?? "-");
    }

    [Theory]
    [InlineData("X-Forwarded-Proto: https", "https")]
    [InlineData("X-Forwarded-Proto: HTTPS", "https")]
    [InlineData("X-Forwarded-Proto: http", "http")]
    [InlineData("X-Forwarded-Proto: http, https", "https")]
    [InlineData("X-Forwarded-Proto: https|X-Forwarded-Proto: http", "http")]
    [InlineData("X-Forwarded-Proto: gopher", "-")]
    [InlineData("X-Forwarded-Ssl: on", "-")]
    public void The_scheme_is_what_the_nearest_proxy_says(string headers, string scheme)
    {
        Assert.Equal(scheme, ForwardedHeaders.Scheme(Head(headers)) ?? "-");
        Assert.Equal(headers.StartsWith("X-Forwarded-Proto"), ForwardedHeaders.AnyIn(Head(headers)));
    }

    private static RequestHead Head(string headers)
    {
        var raw = Encoding.Latin1.GetBytes($"GET / HTTP/1.1\r\nHost: a\r\n{string.Concat(headers.Split('|').Select(h => h + "\r\n"))}\r\n");
        var head = new RequestHead();
        var parsed = RequestParser.TryParseHead(raw, new HttpLimits(), head);
        Assert.Equal(ParseStatus.Complete, parsed.Status);
        head.CopyFrom(raw.AsSpan(0, parsed.Consumed));
        return head;
    }
}
