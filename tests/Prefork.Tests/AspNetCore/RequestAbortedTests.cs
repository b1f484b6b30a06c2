using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// HttpContext.RequestAborted fires when the client resets or closes its side mid-request, or the app aborts; a
/// client that only half-closed still gets the answer of an app that does not give up.
/// </summary>
[Collection(HostsInProcess.Name)]
public sealed class RequestAbortedTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly LoopbackTransport _transport = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<bool> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int Port => new Uri(_transport.Addresses[0]).Port;

    private WebApplication BuildApp() => InterceptedApp.Build(_transport, app =>
    {
        // Reads the token and ends: the next request on the connection gets the same source back, reset.
        app.MapGet("/watch", (HttpContext c) => c.RequestAborted.IsCancellationRequested ? "fired" : "quiet");
        // Gives up when the token fires, as an app that honours it does.
        app.MapGet("/wait", async (HttpContext c) =>
        {
            c.RequestAborted.Register(() => _outcome.TrySetResult(true));
            _started.TrySetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted);
        });
        // Waits for the token (bounded), and answers all the same.
        app.MapGet("/work", async (HttpContext c) =>
        {
            try
            {
                await Task.Delay(Bound, c.RequestAborted);
                return "done, not told";
            }
            catch (OperationCanceledException)
            {
                return "done, told";
            }
        });
        // Reads its streamed body to the end (the client's FIN after it), then works on without the token.
        app.MapPost("/work", async (HttpContext c) =>
        {
            var body = await new StreamReader(c.Request.Body).ReadToEndAsync();
            await Task.Delay(300);
            return $"done with {body}";
        });
        app.MapGet("/abort", (HttpContext c) =>
        {
            c.Abort();
            _outcome.TrySetResult(c.RequestAborted.IsCancellationRequested);
            return "never sent";
        });
    });

    [Fact]
    public async Task Fires_when_the_client_resets_while_the_endpoint_runs()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("quiet", (await client.ReadResponseAsync(timeout: Bound)).BodyText);

        await client.SendAsync("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
        await _started.Task.WaitAsync(Bound);
        client.Abort();
        Assert.True(await _outcome.Task.WaitAsync(Bound));
        await app.StopAsync();
    }

    [Fact]
    public async Task Fires_when_the_client_closes_its_side_and_an_app_that_gives_up_sends_nothing()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("quiet", (await client.ReadResponseAsync(timeout: Bound)).BodyText);

        await client.SendAsync("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
        await _started.Task.WaitAsync(Bound);
        client.ShutdownSend();
        Assert.True(await _outcome.Task.WaitAsync(Bound), "RequestAborted did not fire at the client's FIN");
        Assert.True(await client.IsClosedByServerAsync(Bound), "the request the app gave up on was answered");
        await app.StopAsync();
    }

    [Fact]
    public async Task Abort_fires_it_and_resets_the_connection_instead_of_answering()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.True(await _outcome.Task.WaitAsync(Bound), "RequestAborted had not fired once Abort() returned");
        Assert.True(await client.IsClosedByServerAsync(Bound), "the aborted request was answered");
        await app.StopAsync();
    }

    [Fact]
    public async Task A_client_that_half_closes_after_its_request_still_gets_the_answer()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
        client.ShutdownSend();
        var response = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, response.Status);
        Assert.Equal("done, told", response.BodyText);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_client_that_half_closes_after_its_body_still_gets_the_answer()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("POST /work HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmilk\r\n0\r\n\r\n");
        client.ShutdownSend();
        var response = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, response.Status);
        Assert.Equal("done with milk", response.BodyText);
        Assert.True(await client.IsClosedByServerAsync(Bound));
        await app.StopAsync();
    }

    public void Dispose() => _transport.Dispose();
}
