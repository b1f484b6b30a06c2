using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using HttpRequest = Prefork.App.HttpRequest;
using HttpResponse = Prefork.App.HttpResponse;

namespace Prefork.AspNetCore;

/// <summary>
/// One request's feature collection. The features a server must provide are this one object (as Kestrel's
/// protocol object is); what middleware adds or replaces goes in a small table looked up first.
/// </summary>
internal sealed partial class RequestFeatures : IFeatureCollection,
    IHttpRequestFeature, IHttpConnectionFeature, IHttpRequestLifetimeFeature, IHttpRequestIdentifierFeature
{
    private static readonly HashSet<Type> Own =
    [
        typeof(IHttpRequestFeature), typeof(IHttpResponseFeature), typeof(IHttpResponseBodyFeature),
        typeof(IHttpConnectionFeature), typeof(IHttpRequestLifetimeFeature),
        typeof(IHttpRequestBodyDetectionFeature), typeof(IHttpMaxRequestBodySizeFeature), typeof(IHttpUpgradeFeature),
        typeof(IHttpRequestIdentifierFeature),
    ];

    private readonly HttpRequest _request;
    private Dictionary<Type, object?>? _added;
    private string? _connectionId;
    private ConnectionEndpoints? _endpoints;
    private CancellationToken? _requestAborted;
    private string? _traceIdentifier;

    public RequestFeatures(HttpRequest request, HttpResponse response)
    {
        _request = request;
        _response = response;
        Method = request.MethodName;
        RawTarget = request.Target;
        Path = DotSegments.Remove(PathString.FromUriComponent(request.Path).Value ?? "/");
        QueryString = request.Query.Length == 0 ? "" : "?" + request.Query;
        Protocol = request.Version;
        Headers = new HeaderDictionary(request.HeaderCount);
        for (int i = 0; i < request.HeaderCount; i++)
        {
            var name = request.HeaderName(i);
            Headers[name] = Microsoft.Extensions.Primitives.StringValues.Concat(Headers[name], request.HeaderValue(i));
        }
        Body = new RequestBodyStream(request);
    }

    // IFeatureCollection
    public bool IsReadOnly => false;
    public int Revision { get; private set; }

    public object? this[Type key]
    {
        get => _added != null && _added.TryGetValue(key, out var feature) ? feature : Own.Contains(key) ? this : null;
        set
        {
            (_added ??= new())[key] = value;
            Revision++;
        }
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];
    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        foreach (var type in Own)
        {
            if (_added == null || !_added.ContainsKey(type)) yield return new(type, this);
        }
        if (_added == null) yield break;
        foreach (var (type, feature) in _added)
        {
            if (feature != null) yield return new(type, feature);
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    // IHttpRequestFeature: the request line and head as the engine parsed them; the body is read as it arrives.
    public string Protocol { get; set; }
    public string Scheme { get; set; } = "http";
    public string Method { get; set; }
    public string PathBase { get; set; } = "";
    public string Path { get; set; }
    public string QueryString { get; set; }
    public string RawTarget { get; set; }
    public IHeaderDictionary Headers { get; set; }
    public Stream Body { get; set; }

    // IHttpConnectionFeature: read from the engine when first asked (most requests never ask), then the app's
    // to change (the forwarded-headers middleware sets the client's address).
    public string ConnectionId
    {
        get => _connectionId ??= _request.ConnectionId;
        set => _connectionId = value;
    }

    public IPAddress? RemoteIpAddress
    {
        get => Endpoints().RemoteIp;
        set => _endpoints = Endpoints() with { RemoteIp = value };
    }

    public int RemotePort
    {
        get => Endpoints().RemotePort;
        set => _endpoints = Endpoints() with { RemotePort = value };
    }

    public IPAddress? LocalIpAddress
    {
        get => Endpoints().LocalIp;
        set => _endpoints = Endpoints() with { LocalIp = value };
    }

    public int LocalPort
    {
        get => Endpoints().LocalPort;
        set => _endpoints = Endpoints() with { LocalPort = value };
    }

    private ConnectionEndpoints Endpoints() => _endpoints ??= new(
        _request.RemoteEndPoint?.Address, _request.RemoteEndPoint?.Port ?? 0,
        _request.LocalEndPoint?.Address, _request.LocalEndPoint?.Port ?? 0);

    private sealed record ConnectionEndpoints(IPAddress? RemoteIp, int RemotePort, IPAddress? LocalIp, int LocalPort);

    // IHttpRequestLifetimeFeature: the engine's token, made only if the app asks; middleware may put its own in place.
    public CancellationToken RequestAborted
    {
        get => _requestAborted ?? _request.Aborted;
        set => _requestAborted = value;
    }

    public void Abort() => _request.Abort();

    // IHttpRequestIdentifierFeature: the engine's "connection:number", made when first asked (the hosting log scope asks).
    public string TraceIdentifier
    {
        get => _traceIdentifier ??= _request.RequestId;
        set => _traceIdentifier = value;
    }
}
