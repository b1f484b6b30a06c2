using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Prefork.AspNetCore;

/// <summary>
/// Puts <see cref="PreforkServer"/> in place of Kestrel in an app that knows nothing of Prefork. Every
/// generic host, WebApplication.CreateBuilder's included, announces itself on the "Microsoft.Extensions.Hosting"
/// diagnostic listener while it builds ("HostBuilding", with an IHostBuilder); services added then are
/// registered after the app's own, Kestrel's among them, so ours is the IServer the host resolves. The same
/// events are how WebApplicationFactory puts its TestServer in.
/// </summary>
public sealed class HostInterception : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly Action<IServiceCollection> _services;
    private readonly IDisposable _allListeners;
    private readonly List<IDisposable> _hostListeners = new();

    private HostInterception(Action<IServiceCollection> services)
    {
        _services = services;
        _allListeners = DiagnosticListener.AllListeners.Subscribe(this);
    }

    /// <summary>From now until disposed, every host built in this process serves through the server <paramref name="server"/> makes.</summary>
    public static HostInterception ReplaceServer(Func<IServiceProvider, IServer> server) => new(services => services.AddSingleton(server));

    /// <summary>From now until disposed, every host built in this process gets these services, after (so in place of) its own.</summary>
    public static HostInterception AddServices(Action<IServiceCollection> services) => new(services);

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name != "Microsoft.Extensions.Hosting") return;
        lock (_hostListeners) _hostListeners.Add(listener.Subscribe(this));
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> hostEvent)
    {
        if (hostEvent is { Key: "HostBuilding", Value: IHostBuilder builder })
        {
            builder.ConfigureServices((_, services) => _services(services));
        }
    }

    public void Dispose()
    {
        _allListeners.Dispose();
        lock (_hostListeners)
        {
            foreach (var listener in _hostListeners) listener.Dispose();
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted() { }
    void IObserver<DiagnosticListener>.OnError(Exception error) { }
    void IObserver<KeyValuePair<string, object?>>.OnCompleted() { }
    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error) { }
}
