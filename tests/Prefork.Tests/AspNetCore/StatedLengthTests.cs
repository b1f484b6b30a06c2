using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// A Content-Length the app states and does not keep, as Kestrel treats it: too little is never sent as a whole
/// response, too much fails the write.
/// </summary>
[Collection(HostsInProcess.Name)]
public sealed class StatedLengthTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly LoopbackTransport _transport = new();
    private readonly TaskCompletionSource<Exception?> _write = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int Port => new Uri(_transport.Addresses[0]).Port;

    private WebApplication BuildApp() => InterceptedApp.Build(_transport, app =>
    {
        app.MapGet("/hello", () => "hello");
        app.MapGet("/stated", async (HttpContext c, int stated, int written) =>
        {
            c.Response.ContentLength = stated;
            var write = await Record.ExceptionAsync(() => c.Response.Body.WriteAsync(new byte[written]).AsTask());
            _write.TrySetResult(write);
            if (write != null) throw write;
        });
    });

    [Fact]
    public async Task Fewer_bytes_than_stated_end_the_connection_inside_the_response()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /stated?stated=10&written=5 HTTP/1.1\r\nHost: x\r\n\r\n");
        var cut = await Record.ExceptionAsync(() => client.ReadResponseAsync(timeout: Bound));
        Assert.True(cut is EndOfStreamException or SocketException, $"a short body was sent as a whole response: {cut}");
        await app.StopAsync();
    }

    [Fact]
    public async Task Nothing_written_under_a_stated_length_is_a_500_and_the_connection_lives_on()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /stated?stated=10&written=0 HTTP/1.1\r\nHost: x\r\n\r\n");
        var failed = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal(500, failed.Status);
        Assert.Equal("0", failed.Header("Content-Length"));
        await client.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("hello", (await client.ReadResponseAsync(timeout: Bound)).BodyText);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_write_past_the_stated_length_fails_and_the_answer_is_a_500()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /stated?stated=5&written=10 HTTP/1.1\r\nHost: x\r\n\r\n");
        var failed = await client.ReadResponseAsync(timeout: Bound);
        Assert.IsType<InvalidOperationException>(await _write.Task.WaitAsync(Bound));
        Assert.Equal(500, failed.Status);
        Assert.Equal("close", failed.Header("Connection"));
        Assert.DoesNotContain(new string('\0', 5), Encoding.ASCII.GetString(failed.Body));
        await app.StopAsync();
    }

    public void Dispose() => _transport.Dispose();
}
