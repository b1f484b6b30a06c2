using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prefork.AspNetCore;

namespace Prefork.Tests.AspNetCore;

/// <summary>A minimal API app, written as for Kestrel, served by Prefork's engine (<see cref="InterceptedApp"/>).</summary>
[Collection(HostsInProcess.Name)]
public sealed class AspNetCoreAppTests
{
    private sealed record Item(string Name, int Count);

    private static WebApplication BuildApp(LoopbackTransport transport, Action<WebApplicationBuilder>? configure = null) =>
        InterceptedApp.Build(transport, app =>
        {
            app.MapGet("/hello", () => "Hello from ASP.NET Core");
            app.MapPost("/json", (Item item) => Results.Json(item with { Count = item.Count + 1 }));
            app.MapGet("/big", async (HttpContext context) =>
            {
                var line = new string('x', 99) + "\n";
                for (int i = 0; i < 1000; i++) await context.Response.WriteAsync(line);
            });
            app.MapGet("/fail", string () => throw new InvalidOperationException("boom"));
            app.MapGet("/cookies", (HttpContext context) =>
            {
                context.Response.OnStarting(() =>
                {
                    context.Response.Headers["X-Started"] = "yes";
                    return Task.CompletedTask;
                });
                context.Response.Cookies.Append("a", "1");
                context.Response.Cookies.Append("b", "2");
                return "two cookies";
            });
            app.MapGet("/file", (string path) => Results.File(path, "application/octet-stream"));
        }, configure);

    private static HttpClient ClientFor(LoopbackTransport transport) => InterceptedApp.ClientFor(transport);

    [Fact]
    public async Task Minimal_api_answers_text_json_and_a_streamed_body_through_the_engine()
    {
        using var transport = new LoopbackTransport();
        await using var app = BuildApp(transport);
        await app.StartAsync();
        using var client = ClientFor(transport);

        var hello = await client.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.OK, hello.StatusCode);
        Assert.Equal("Hello from ASP.NET Core", await hello.Content.ReadAsStringAsync());
        Assert.Equal("Prefork", hello.Headers.Server.ToString());
        Assert.Equal("text/plain; charset=utf-8", hello.Content.Headers.ContentType?.ToString());
        // Small bodies go out whole, with their length: one send, no chunking.
        Assert.Equal(23, hello.Content.Headers.ContentLength);

        var json = await client.PostAsJsonAsync("/json", new Item("milk", 1));
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        Assert.Equal("application/json; charset=utf-8", json.Content.Headers.ContentType?.ToString());
        Assert.Equal(new Item("milk", 2), await json.Content.ReadFromJsonAsync<Item>());

        var big = await client.GetAsync("/big");
        Assert.True(big.Headers.TransferEncodingChunked);
        Assert.Equal(100_000, (await big.Content.ReadAsByteArrayAsync()).Length);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nowhere")).StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task The_apps_own_urls_give_way_to_the_servers_and_a_failing_endpoint_is_a_500()
    {
        using var transport = new LoopbackTransport();
        await using var app = BuildApp(transport, builder => builder.WebHost.UseUrls("http://127.0.0.1:1"));
        await app.StartAsync();
        using var client = ClientFor(transport);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Assert.Equal(transport.Addresses, addresses);

        var failed = await client.GetAsync("/fail");
        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(0, failed.Content.Headers.ContentLength);
        // The connection survives a failure before the response started.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/hello")).StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task Starting_callbacks_repeated_headers_and_files_reach_the_client()
    {
        using var transport = new LoopbackTransport();
        await using var app = BuildApp(transport);
        await app.StartAsync();
        using var client = ClientFor(transport);

        var cookies = await client.GetAsync("/cookies");
        Assert.Equal("yes", Assert.Single(cookies.Headers.GetValues("X-Started")));
        Assert.Equal(["a=1; path=/", "b=2; path=/"], cookies.Headers.GetValues("Set-Cookie"));

        var path = Path.GetTempFileName();
        try
        {
            var content = new byte[200_000];
            Random.Shared.NextBytes(content);
            await File.WriteAllBytesAsync(path, content);
            var file = await client.GetAsync($"/file?path={Uri.EscapeDataString(path)}");
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            Assert.Equal(content.Length, file.Content.Headers.ContentLength);
            Assert.Equal(content, await file.Content.ReadAsByteArrayAsync());
        }
        finally
        {
            File.Delete(path);
        }
        await app.StopAsync();
    }
}
