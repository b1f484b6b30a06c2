using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Prefork.AspNetCore;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// An ASP.NET Core app written as for Kestrel, built while <see cref="HostInterception"/> listens, as in a
/// worker, so nothing in the app names Prefork: it serves on the transport's socket.
/// </summary>
internal static class InterceptedApp
{
    // The interception hears every host built in the process: two tests building at once would each put their
    // server into both hosts, and the later one would win in both.
    private static readonly Lock Building = new();

    public static WebApplication Build(LoopbackTransport transport, Action<WebApplication> map, Action<WebApplicationBuilder>? configure = null)
    {
        lock (Building)
        {
            using var interception = HostInterception.ReplaceServer(_ => new PreforkServer(transport));
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
            builder.Logging.ClearProviders();
            configure?.Invoke(builder);
            var app = builder.Build();
            map(app);
            return app;
        }
    }

    public static HttpClient ClientFor(LoopbackTransport transport) =>
        new() { BaseAddress = new Uri(transport.Addresses[0]), Timeout = TimeSpan.FromSeconds(10) };
}
