using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>Protocol upgrade through IHttpUpgradeFeature: app.UseWebSockets() works, and the engine lets go of HTTP on an upgraded connection.</summary>
[Collection(HostsInProcess.Name)]
public sealed class UpgradeTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly LoopbackTransport _transport = new();

    private int Port => new Uri(_transport.Addresses[0]).Port;

    private WebApplication BuildApp() => InterceptedApp.Build(_transport, app =>
    {
        app.UseWebSockets();
        app.MapGet("/hello", () => "hello");
        app.Map("/ws", async (HttpContext c) =>
        {
            if (!c.WebSockets.IsWebSocketRequest)
            {
                c.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            using var socket = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[8192];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
            }
        });
        // A protocol of its own: echoes bytes until the client ends its side.
        app.Map("/raw", async (HttpContext c) =>
        {
            var upgrade = c.Features.Get<IHttpUpgradeFeature>()!;
            if (!upgrade.IsUpgradableRequest)
            {
                c.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
                return;
            }
            c.Response.Headers.Upgrade = "echo";
            await using var stream = await upgrade.UpgradeAsync();
            await stream.CopyToAsync(stream);
        });
    });

    [Fact]
    public async Task A_websocket_echoes_text_and_a_large_binary_message_then_closes_cleanly()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        using var timeout = new CancellationTokenSource(Bound);
        using var client = new ClientWebSocket();
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{Port}/ws"), timeout.Token);

        var text = Encoding.UTF8.GetBytes("hello over a websocket");
        var binary = new byte[200_000];
        Random.Shared.NextBytes(binary);
        foreach (var (message, type) in new[] { (text, WebSocketMessageType.Text), (binary, WebSocketMessageType.Binary) })
        {
            await client.SendAsync(message, type, endOfMessage: true, timeout.Token);
            Assert.Equal(message, await ReceiveMessageAsync(client, type, timeout.Token));
        }

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal("bye", client.CloseStatusDescription);
        // The server goes on serving HTTP on other connections.
        using var http = InterceptedApp.ClientFor(_transport);
        Assert.Equal("hello", await http.GetStringAsync("/hello", timeout.Token));
        await app.StopAsync();
    }

    [Fact]
    public async Task Bytes_sent_with_the_upgrade_request_come_first_and_the_connection_ends_with_the_app()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /raw HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly bytes;");

        var switching = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal(101, switching.Status);
        Assert.Equal("Upgrade", switching.Header("Connection"));
        Assert.Equal("echo", switching.Header("Upgrade"));
        Assert.Equal("early bytes;", Encoding.ASCII.GetString(await client.ReadBytesAsync(12, Bound)));

        // What looks like HTTP is now the app's protocol: echoed, not parsed.
        await client.SendAsync("GET /hello HTTP/1.1\r\n\r\n");
        Assert.Equal("GET /hello HTTP/1.1\r\n\r\n", Encoding.ASCII.GetString(await client.ReadBytesAsync(23, Bound)));
        client.ShutdownSend();
        Assert.True(await client.IsClosedByServerAsync(Bound), "the connection outlived the app's handler");
        await app.StopAsync();
    }

    [Fact]
    public async Task A_request_that_does_not_ask_to_upgrade_is_not_upgradable()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n");
        Assert.Equal(426, (await client.ReadResponseAsync(timeout: Bound)).Status);
        await client.SendAsync("POST /raw HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\nContent-Length: 1\r\n\r\nx");
        Assert.Equal(426, (await client.ReadResponseAsync(timeout: Bound)).Status);
        await app.StopAsync();
    }

    private static async Task<byte[]> ReceiveMessageAsync(ClientWebSocket client, WebSocketMessageType type, CancellationToken token)
    {
        var message = new MemoryStream();
        var buffer = new byte[16384];
        while (true)
        {
            var received = await client.ReceiveAsync(buffer, token);
            Assert.Equal(type, received.MessageType);
            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage) return message.ToArray();
        }
    }

    public void Dispose() => _transport.Dispose();
}
