using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Prefork.AspNetCore;

/// <summary>
/// ASP.NET Core's server, in place of Kestrel: the host gives it the app's request pipeline
/// (<see cref="IHttpApplication{TContext}"/>) and it passes it, as an IHttpApp, to the transport that
/// owns the sockets.
/// </summary>
public sealed class PreforkServer : IServer, IServerAddressesFeature
{
    private readonly IServerTransport _transport;
    private readonly List<string> _addresses = new();

    public PreforkServer(IServerTransport transport)
    {
        _transport = transport;
        Features.Set<IServerAddressesFeature>(this);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    ICollection<string> IServerAddressesFeature.Addresses => _addresses;
    // The listening sockets are the master's: an app's own URLs cannot move them.
    bool IServerAddressesFeature.PreferHostingUrls { get; set; }

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        // The host fills in the app's URLs (ASPNETCORE_URLS, --urls, launchSettings) before it starts the server.
        if (_addresses.Count > 0)
        {
            Log.Info($"The app's URLs ({string.Join(", ", _addresses)}) are ignored: Prefork serves on {string.Join(", ", _transport.Addresses)}");
        }
        _addresses.Clear();
        _addresses.AddRange(_transport.Addresses);
        _transport.Start(new AspNetCoreApp<TContext>(application));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _transport.StopAsync(cancellationToken);

    public void Dispose() { }
}
