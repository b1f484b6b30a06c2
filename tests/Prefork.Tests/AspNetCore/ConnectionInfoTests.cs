using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>HttpContext.Connection is the client's socket as the server sees it and names the connection; TraceIdentifier and the reason phrase come from the engine too.</summary>
[Collection(HostsInProcess.Name)]
public sealed class ConnectionInfoTests
{
    [Fact]
    public async Task Connection_addresses_ports_and_id_are_those_of_the_clients_socket()
    {
        using var transport = new LoopbackTransport();
        await using var app = InterceptedApp.Build(transport, a => a.MapGet("/connection", (HttpContext c) =>
            $"{c.Connection.RemoteIpAddress} {c.Connection.RemotePort} {c.Connection.LocalIpAddress} {c.Connection.LocalPort} {c.Connection.Id}"));
        await app.StartAsync();
        int port = new Uri(transport.Addresses[0]).Port;
        await using var first = await RawHttpConnection.ConnectAsync(port);
        await using var second = await RawHttpConnection.ConnectAsync(port);

        var seen = new List<string[]>();
        foreach (var client in new[] { first, first, second })
        {
            await client.SendAsync("GET /connection HTTP/1.1\r\nHost: x\r\n\r\n");
            seen.Add((await client.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10))).BodyText.Split(' '));
        }

        Assert.Equal(["127.0.0.1", $"{first.LocalPort}", "127.0.0.1", $"{port}"], seen[0][..4]);
        Assert.Equal(["127.0.0.1", $"{second.LocalPort}", "127.0.0.1", $"{port}"], seen[2][..4]);
        Assert.NotEqual("", seen[0][4]);
        Assert.Equal(seen[0][4], seen[1][4]);
        Assert.NotEqual(seen[0][4], seen[2][4]);
        await app.StopAsync();
    }

    [Fact]
    public async Task TraceIdentifier_is_the_connection_and_the_requests_number_on_it_and_a_reason_phrase_goes_out_as_set()
    {
        using var transport = new LoopbackTransport();
        await using var app = InterceptedApp.Build(transport, a =>
        {
            a.MapGet("/trace", (HttpContext c) => $"{c.Connection.Id} {c.TraceIdentifier}");
            a.MapGet("/reason", (HttpContext c) =>
            {
                c.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = "Quite Fine";
                return "ok";
            });
        });
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(new Uri(transport.Addresses[0]).Port);

        var seen = new List<string[]>();
        for (int i = 0; i < 2; i++)
        {
            await client.SendAsync("GET /trace HTTP/1.1\r\nHost: x\r\n\r\n");
            seen.Add((await client.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10))).BodyText.Split(' '));
        }
        Assert.Equal($"{seen[0][0]}:00000001", seen[0][1]);
        Assert.Equal($"{seen[0][0]}:00000002", seen[1][1]);

        await client.SendAsync("GET /reason HTTP/1.1\r\nHost: x\r\n\r\n");
        var reason = await client.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(200, reason.Status);
        Assert.Equal("Quite Fine", reason.Reason);
        await app.StopAsync();
    }
}
