using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Prefork.Http;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>An upgraded connection's writes have the request timeout: a peer that stops reading is cut, and the server goes on.</summary>
[Collection(HostsInProcess.Name)]
public sealed class UpgradeWriteTimeoutTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private readonly LoopbackTransport _transport = new(new HttpLimits { RequestTimeout = TimeSpan.FromSeconds(1) });
    private readonly TaskCompletionSource<Exception> _writeFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task A_peer_that_never_reads_is_cut_after_the_timeout()
    {
        await using var app = InterceptedApp.Build(_transport, a =>
        {
            a.MapGet("/hello", () => "hello");
            // Writes until the write fails: the peer below reads nothing, not even the 101.
            a.Map("/flood", async (HttpContext c) =>
            {
                c.Response.Headers.Upgrade = "flood";
                await using var stream = await c.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync();
                var block = new byte[64 * 1024];
                try
                {
                    while (true) await stream.WriteAsync(block);
                }
                catch (Exception e)
                {
                    _writeFailed.TrySetResult(e);
                }
            });
        });
        await app.StartAsync();
        int port = new Uri(_transport.Addresses[0]).Port;
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await peer.ConnectAsync("127.0.0.1", port);
        await peer.SendAsync("GET /flood HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: flood\r\n\r\n"u8.ToArray());

        await _writeFailed.Task.WaitAsync(Bound);
        Assert.Equal("hello", (await RawHttpConnection.GetAsync(port, "/hello")).BodyText);
        await app.StopAsync();
    }

    public void Dispose() => _transport.Dispose();
}
