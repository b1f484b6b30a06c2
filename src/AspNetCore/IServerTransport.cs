using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// What takes connections and runs each request through an <see cref="IHttpApp"/>: in a worker, its accept
/// thread on the master's socket; in a test, a loopback listener. <see cref="PreforkServer"/> hands it the
/// ASP.NET Core app once the host starts.
/// </summary>
public interface IServerTransport
{
    /// <summary>The addresses clients reach this server on ("http://127.0.0.1:8888"), for IServerAddressesFeature.</summary>
    IReadOnlyList<string> Addresses { get; }
    void Start(IHttpApp app);
    /// <summary>Stops taking connections and lets those in flight finish, until <paramref name="cancellationToken"/> fires.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}
