using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// A connection's <see cref="RequestFeatures"/>, holding the host's context between its requests: the hosting
/// layer keeps its context, and the HttpContext in it, in a feature collection that can hold one
/// (<see cref="IHostContextContainer{TContext}"/>), and resets them for the next request instead of making new ones.
/// </summary>
internal sealed class ConnectionFeatures<TContext>(HttpRequest request, HttpResponse response)
    : RequestFeatures(request, response), IHostContextContainer<TContext>
    where TContext : notnull
{
    public TContext? HostContext { get; set; }
}
