using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// The <see cref="RequestFeatures"/> kept with one engine request object, holding the host's context between the
/// requests it serves: the hosting layer keeps its context, and the HttpContext in it, in a feature collection that
/// can hold one (<see cref="IHostContextContainer{TContext}"/>), and resets them for the next request instead of
/// making new ones. The engine lends its request objects to one connection at a time, and takes them back when the
/// connection goes idle, so an idle connection holds none of this.
/// </summary>
internal sealed class ReusedFeatures<TContext>(HttpRequest request, HttpResponse response)
    : RequestFeatures(request, response), IHostContextContainer<TContext>
    where TContext : notnull
{
    public TContext? HostContext { get; set; }
}
