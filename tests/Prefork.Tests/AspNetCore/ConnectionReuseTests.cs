using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The requests of one keep-alive connection share their feature collection and HttpContext, as on Kestrel: what
/// one request, its middleware or its endpoint leaves behind must not reach the next.
/// </summary>
[Collection(HostsInProcess.Name)]
public sealed class ConnectionReuseTests
{
    private sealed class LeftOver;

    [Fact]
    public async Task A_request_sees_nothing_of_the_one_before_it_on_the_connection()
    {
        int completed = 0;
        Task Complete()
        {
            Interlocked.Increment(ref completed);
            return Task.CompletedTask;
        }
        using var transport = new LoopbackTransport();
        await using var app = InterceptedApp.Build(transport, app =>
        {
            app.MapGet("/dirty/{id}", (HttpContext c) =>
            {
                c.Items["left"] = "over";
                c.Features.Set(new LeftOver());
                c.TraceIdentifier = "first";
                c.RequestAborted = new CancellationToken(canceled: true);
                c.Response.StatusCode = 201;
                c.Response.Headers["X-Left"] = "over";
                c.Response.OnCompleted(Complete);
                return "dirty";
            });
            // Fails with bytes in the body writer and a starting callback waiting: the 500 sends neither, nor may the next response.
            app.MapGet("/broken", async (HttpContext c) =>
            {
                c.Response.OnStarting(() =>
                {
                    c.Response.Headers["X-Started"] = "broken";
                    return Task.CompletedTask;
                });
                c.Response.OnCompleted(Complete);
                c.Response.BodyWriter.Write("stale "u8);
                await Task.Yield();
                throw new InvalidOperationException("broken on purpose");
            });
            app.MapGet("/inspect", (HttpContext c) =>
                $"items={c.Items.ContainsKey("left")} feature={c.Features.Get<LeftOver>() != null} " +
                $"header={c.Request.Headers.ContainsKey("X-First")} route={c.Request.RouteValues.ContainsKey("id")} " +
                $"trace={c.TraceIdentifier == "first"} aborted={c.RequestAborted.IsCancellationRequested} " +
                $"status={c.Response.StatusCode} responseHeader={c.Response.Headers.ContainsKey("X-Left")} completed={completed}");
        });
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(new Uri(transport.Addresses[0]).Port);

        await client.SendAsync("GET /dirty/7 HTTP/1.1\r\nHost: x\r\nX-First: 1\r\n\r\n");
        var dirty = await client.ReadResponseAsync();
        Assert.Equal((201, "over", "dirty"), (dirty.Status, dirty.Header("X-Left"), dirty.BodyText));

        await client.SendAsync("GET /broken HTTP/1.1\r\nHost: x\r\n\r\n");
        var broken = await client.ReadResponseAsync();
        Assert.Equal((500, "", null, null), (broken.Status, broken.BodyText, broken.Header("X-Left"), broken.Header("X-Started")));

        await client.SendAsync("GET /inspect HTTP/1.1\r\nHost: x\r\n\r\n");
        var inspect = await client.ReadResponseAsync();
        Assert.Equal(200, inspect.Status);
        Assert.Null(inspect.Header("X-Left"));
        Assert.Null(inspect.Header("X-Started"));
        Assert.Equal("items=False feature=False header=False route=False trace=False aborted=False status=200 responseHeader=False completed=2",
            inspect.BodyText);
        await app.StopAsync();
    }
}
