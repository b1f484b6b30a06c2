using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// An ASP.NET Core app behind a proxy sees the client the proxy names, with no forwarded-headers middleware of its
/// own: HttpContext.Connection and Request.Scheme come from the PROXY header and a trusted X-Forwarded-*.
/// </summary>
[Collection(BuildsFirst.WebAppBuild)]
public sealed class ClientAddressAppTests(WebAppBuild apps, ITestOutputHelper output)
{
    [Fact]
    public async Task The_app_and_its_log_see_the_client_the_proxy_names()
    {
        // The client the PROXY header names (192.0.2.10) is itself a trusted proxy, so its X-Forwarded-* count too.
        await using var master = await AppUnderMaster.StartAsync(apps.Lifecycle, output, null,
            "--proxy-protocol", "--forwarded-allow-ips", "192.0.2.0/24");

        await using var client = await RawHttpConnection.ConnectAsync(master.Port);
        await client.SendAsync("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET /client HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("192.0.2.10 56324 http", (await client.ReadResponseAsync(timeout: AppUnderMaster.Bound)).BodyText);

        await client.SendAsync("GET /client HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n\r\n");
        Assert.Equal("203.0.113.9 0 https", (await client.ReadResponseAsync(timeout: AppUnderMaster.Bound)).BodyText);
        await master.WaitForLineAsync(l => l.Contains("client 203.0.113.9", StringComparison.Ordinal), AppUnderMaster.Bound);
    }
}
