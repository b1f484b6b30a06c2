using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Prefork.AspNetCore;

/// <summary>
/// The endpoint routing chose and its route values, held here as Kestrel holds them: routing sets them on nearly
/// every request, and as features of the collection's own they cost no object each time.
/// </summary>
internal partial class RequestFeatures : IEndpointFeature, IRouteValuesFeature
{
    private RouteValueDictionary? _routeValues;

    public Endpoint? Endpoint { get; set; }

    public RouteValueDictionary RouteValues
    {
        get => _routeValues ??= new();
        set => _routeValues = value;
    }

    private void BeginRouting()
    {
        Endpoint = null;
        _routeValues = null;
    }
}
