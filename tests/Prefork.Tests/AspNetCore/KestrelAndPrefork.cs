using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Prefork.AspNetCore;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// What one raw request got from a server: the response (null when the connection ended inside it), and whether
/// the connection then served another.
/// </summary>
public sealed record Answer(RawResponse? Response, bool KeptAlive);

/// <summary>
/// <see cref="DifferentialApp"/> twice in the test process, over one content root: once on Kestrel, once on
/// Prefork's engine (built while <see cref="HostInterception"/> listens, as in a worker).
/// </summary>
public sealed class KestrelAndPrefork : IAsyncLifetime
{
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("prefork-diff-").FullName;
    private readonly LoopbackTransport _transport = new();
    private WebApplication? _kestrel, _prefork;

    public int KestrelPort { get; private set; }
    public int PreforkPort { get; private set; }
    /// <summary>wwwroot/site.css's ETag as Kestrel gives it, for conditional requests.</summary>
    public string SiteCssETag { get; private set; } = "";

    public async Task InitializeAsync()
    {
        DifferentialApp.WriteContentRoot(_contentRoot);
        _kestrel = DifferentialApp.Build(_contentRoot);
        using (HostInterception.ReplaceServer(_ => new PreforkServer(_transport)))
        {
            _prefork = DifferentialApp.Build(_contentRoot);
        }
        Assert.IsNotType<PreforkServer>(_kestrel.Services.GetRequiredService<IServer>());
        Assert.IsType<PreforkServer>(_prefork.Services.GetRequiredService<IServer>());
        await _kestrel.StartAsync();
        await _prefork.StartAsync();
        KestrelPort = PortOf(_kestrel);
        PreforkPort = PortOf(_prefork);
        var css = await RawHttpConnection.GetAsync(KestrelPort, "/site.css");
        SiteCssETag = css.Header("ETag") ?? throw new InvalidOperationException($"no ETag on {css}");
    }

    private static int PortOf(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new Uri(address).Port;
    }

    /// <summary>Sends <paramref name="request"/> on a new connection, reads the answer, then tries a second request on it.</summary>
    public static async Task<Answer> AskAsync(int port, string request)
    {
        await using var connection = await RawHttpConnection.ConnectAsync(port);
        await connection.SendAsync(request);
        RawResponse response;
        try
        {
            response = await connection.ReadResponseAsync(head: request.StartsWith("HEAD ", StringComparison.Ordinal));
        }
        catch (Exception e) when (e is EndOfStreamException or SocketException)
        {
            return new Answer(null, KeptAlive: false);
        }
        return new Answer(response, await ServesAnotherAsync(connection));
    }

    private static async Task<bool> ServesAnotherAsync(RawHttpConnection connection)
    {
        try
        {
            await connection.SendAsync("GET /text HTTP/1.1\r\nHost: localhost\r\n\r\n");
            return (await connection.ReadResponseAsync()).Status == 200;
        }
        catch (Exception e) when (e is EndOfStreamException or SocketException)
        {
            return false;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var app in new[] { _kestrel, _prefork })
        {
            if (app == null) continue;
            await app.StopAsync();
            await app.DisposeAsync();
        }
        _transport.Dispose();
        Directory.Delete(_contentRoot, recursive: true);
    }
}
