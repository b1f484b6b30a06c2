using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Prefork.Http;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The request body under an ASP.NET Core app, as under Kestrel: the app runs once the head is parsed and reads
/// the body as it arrives, within a limit it may change until it starts reading; what it leaves unread is drained.
/// </summary>
[Collection(HostsInProcess.Name)]
public sealed class RequestBodyTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    // A small body limit and a short request timeout, so the tests can cross them.
    private readonly LoopbackTransport _transport = new(new HttpLimits { MaxBodySize = 100, RequestTimeout = TimeSpan.FromSeconds(1) });
    private readonly SemaphoreSlim _started = new(0);

    private int Port => new Uri(_transport.Addresses[0]).Port;

    private WebApplication BuildApp() => InterceptedApp.Build(_transport, app =>
    {
        app.MapGet("/hello", () => "hello");
        app.MapPost("/echo", async (HttpContext c) =>
        {
            _started.Release();
            var body = await new StreamReader(c.Request.Body).ReadToEndAsync();
            return $"{body.Length}:{body}";
        });
        app.MapPost("/count", async (HttpContext c) => $"{await CountAsync(c.Request.BodyReader)}");
        app.MapPost("/limit", async (HttpContext c, string max) =>
        {
            var feature = c.Features.Get<IHttpMaxRequestBodySizeFeature>()!;
            bool readOnlyBefore = feature.IsReadOnly;
            feature.MaxRequestBodySize = max == "none" ? null : long.Parse(max);
            long count = await CountAsync(c.Request.BodyReader);
            bool refusedAfter = Assert.Throws<InvalidOperationException>(() => feature.MaxRequestBodySize = 1) != null;
            return $"{count} read-only before {readOnlyBefore}, after {feature.IsReadOnly}, refused {refusedAfter}";
        });
        app.MapPost("/small", [RequestSizeLimit(10)] async (HttpContext c) => $"{await CountAsync(c.Request.BodyReader)}");
        app.MapPost("/large", [DisableRequestSizeLimit] async (HttpContext c) => $"{await CountAsync(c.Request.BodyReader)}");
        app.MapPost("/ignore", () => "ignored");
        app.MapPost("/started-then-read", async (HttpContext c) =>
        {
            await c.Response.WriteAsync("started;");
            await c.Response.Body.FlushAsync();
            await CountAsync(c.Request.BodyReader);
        });
    });

    private static async Task<long> CountAsync(PipeReader reader)
    {
        long count = 0;
        while (true)
        {
            var read = await reader.ReadAsync();
            count += read.Buffer.Length;
            reader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted) return count;
        }
    }

    [Fact]
    public async Task The_app_runs_once_the_head_is_parsed_and_reads_a_sized_or_chunked_body_as_it_arrives()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);

        await client.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello ");
        Assert.True(await _started.WaitAsync(Bound), "the app did not run before the whole body came");
        await client.SendAsync("world");
        Assert.Equal("11:hello world", (await client.ReadResponseAsync(timeout: Bound)).BodyText);

        await client.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n");
        Assert.True(await _started.WaitAsync(Bound), "the app did not run before the whole chunked body came");
        await client.SendAsync("5;ext=1\r\nworld\r\n0\r\nTrailer: x\r\n\r\n");
        var chunked = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal("11:hello world", chunked.BodyText);
        Assert.Null(chunked.Header("Connection"));
        await app.StopAsync();
    }

    [Fact]
    public async Task Continue_is_sent_only_when_the_app_starts_reading()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);

        await client.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        Assert.Equal(100, (await client.ReadResponseAsync(timeout: Bound)).Status);
        await client.SendAsync("hello");
        Assert.Equal("5:hello", (await client.ReadResponseAsync(timeout: Bound)).BodyText);

        // An app that answers without reading gets no 100 sent for it; the body may never come, so the connection closes.
        await client.SendAsync("POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        var ignored = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal(200, ignored.Status);
        Assert.Equal("close", ignored.Header("Connection"));
        await app.StopAsync();
    }

    [Fact]
    public async Task The_body_limit_is_the_apps_to_change_until_it_reads_and_past_it_the_answer_is_413()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        var body = new string('b', 1000);

        var lowered = await PostAsync("/limit?max=10", new string('b', 20));
        Assert.Equal(413, lowered.Status);
        Assert.Equal("close", lowered.Header("Connection"));
        Assert.Equal("1000 read-only before False, after True, refused True", (await PostAsync("/limit?max=none", body)).BodyText);
        Assert.Equal(413, (await PostAsync("/small", new string('b', 20))).Status);
        Assert.Equal("1000", (await PostAsync("/large", body)).BodyText);
        Assert.Equal(413, (await PostAsync("/count", body)).Status);
        Assert.Equal(413, (await PostChunkedAsync("/count", body)).Status);
        Assert.Equal("1000", (await PostChunkedAsync("/large", body)).BodyText);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_body_refused_after_the_response_started_cuts_the_connection()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync($"POST /started-then-read HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{new string('b', 200)}");
        var cut = await Record.ExceptionAsync(() => client.ReadResponseAsync(timeout: Bound));
        Assert.True(cut is EndOfStreamException or SocketException, $"the response was not cut short: {cut}");
        await app.StopAsync();
    }

    [Fact]
    public async Task A_body_that_stops_coming_while_the_app_reads_is_answered_408()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        Assert.True(await _started.WaitAsync(Bound), "the app did not run before the whole body came");
        var timedOut = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal(408, timedOut.Status);
        Assert.True(await client.IsClosedByServerAsync(Bound));
        await app.StopAsync();
    }

    [Fact]
    public async Task A_body_the_app_leaves_unread_is_drained_for_the_next_request_or_the_connection_closes()
    {
        await using var app = BuildApp();
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync("POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcd");
        var answered = await client.ReadResponseAsync(timeout: Bound);
        Assert.Equal("ignored", answered.BodyText);
        Assert.Null(answered.Header("Connection"));
        await client.SendAsync("efghijGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("hello", (await client.ReadResponseAsync(timeout: Bound)).BodyText);

        // Too much to be worth reading past: answered, and the connection says it closes.
        await using var large = await RawHttpConnection.ConnectAsync(Port);
        await large.SendAsync("POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n");
        var closing = await large.ReadResponseAsync(timeout: Bound);
        Assert.Equal("ignored", closing.BodyText);
        Assert.Equal("close", closing.Header("Connection"));
        await using var unread = await RawHttpConnection.ConnectAsync(Port);
        await unread.SendAsync("POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n");
        var chunked = await unread.ReadResponseAsync(timeout: Bound);
        Assert.Equal("ignored", chunked.BodyText);
        await unread.SendAsync("0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("hello", (await unread.ReadResponseAsync(timeout: Bound)).BodyText);
        await app.StopAsync();
    }

    private async Task<RawResponse> PostAsync(string target, string body)
    {
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync($"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        return await client.ReadResponseAsync(timeout: Bound);
    }

    private async Task<RawResponse> PostChunkedAsync(string target, string body)
    {
        await using var client = await RawHttpConnection.ConnectAsync(Port);
        await client.SendAsync($"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body.Length:x}\r\n{body}\r\n0\r\n\r\n");
        return await client.ReadResponseAsync(timeout: Bound);
    }

    public void Dispose() => _transport.Dispose();
}
