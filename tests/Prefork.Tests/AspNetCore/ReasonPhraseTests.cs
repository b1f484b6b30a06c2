using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>Every status an ASP.NET Core app commonly sends goes out with its standard reason phrase, as Kestrel's does.</summary>
[Collection(HostsInProcess.Name)]
public sealed class ReasonPhraseTests : IDisposable
{
    private static readonly int[] Statuses =
    [
        200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
        400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 422, 426, 428, 429, 431,
        500, 501, 502, 503, 504,
    ];

    // Where RFC 9110 renamed a status, the engine writes the new name; ASP.NET Core's table keeps RFC 7231's.
    private static readonly Dictionary<int, string> Renamed = new() { [413] = "Content Too Large", [422] = "Unprocessable Content" };

    private readonly LoopbackTransport _transport = new();

    [Fact]
    public async Task Each_common_status_has_its_standard_phrase()
    {
        await using var app = InterceptedApp.Build(_transport, a => a.MapGet("/status/{code:int}", (int code) => Results.StatusCode(code)));
        await app.StartAsync();
        await using var client = await RawHttpConnection.ConnectAsync(new Uri(_transport.Addresses[0]).Port);
        var wrong = new List<string>();
        foreach (int status in Statuses)
        {
            await client.SendAsync($"GET /status/{status} HTTP/1.1\r\nHost: x\r\n\r\n");
            var response = await client.ReadResponseAsync(timeout: TimeSpan.FromSeconds(10));
            // ASP.NET Core's own table, which Kestrel writes from, save for RFC 9110's new names.
            var expected = Renamed.GetValueOrDefault(status) ?? ReasonPhrases.GetReasonPhrase(status);
            if (response.Status != status || response.Reason != expected) wrong.Add($"{status}: {response.Status} {response.Reason}");
        }
        Assert.Empty(wrong);
        await app.StopAsync();
    }

    public void Dispose() => _transport.Dispose();
}
