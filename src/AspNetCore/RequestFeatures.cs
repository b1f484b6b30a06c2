using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using HttpRequest = Prefork.App.HttpRequest;
using HttpResponse = Prefork.App.HttpResponse;

namespace Prefork.AspNetCore;

/// <summary>
/// The feature collection of a connection's requests, one at a time. The features a server must provide are this
/// one object (as Kestrel's protocol object is); what middleware adds or replaces goes in a small table looked up
/// first, emptied for each request.
/// </summary>
internal partial class RequestFeatures : IFeatureCollection,
    IHttpRequestFeature, IHttpConnectionFeature, IHttpRequestLifetimeFeature, IHttpRequestIdentifierFeature
{
    private static readonly HashSet<Type> Own =
    [
        typeof(IHttpRequestFeature), typeof(IHttpResponseFeature), typeof(IHttpResponseBodyFeature),
        typeof(IHttpConnectionFeature), typeof(IHttpRequestLifetimeFeature),
        typeof(IHttpRequestBodyDetectionFeature), typeof(IHttpMaxRequestBodySizeFeature), typeof(IHttpUpgradeFeature),
        typeof(IHttpRequestIdentifierFeature), typeof(IEndpointFeature), typeof(IRouteValuesFeature),
    ];

    private readonly HttpRequest _request;
    private readonly HeaderDictionary _requestHeaders = new();
    private readonly RequestBodyStream _body;
    private Dictionary<Type, object?>? _added;
    private string? _connectionId;
    private ConnectionEndpoints? _endpoints;
    private CancellationToken? _requestAborted;
    private string? _traceIdentifier;

    public RequestFeatures(HttpRequest request, HttpResponse response)
    {
        _request = request;
        _response = response;
        _body = new RequestBodyStream(request);
        Headers = _requestHeaders;
        ResponseHeaders = _responseHeaders;
    }

    /// <summary>
    /// Makes this the next request's collection: what the last request or its middleware left here is dropped, and
    /// the engine's request is read in. The objects themselves (this, the header dictionaries, the body writer, the
    /// host's context) serve every request of the connection, as Kestrel's do.
    /// </summary>
    public void BeginRequest()
    {
        _added?.Clear();
        // Feature caches keyed on the revision (DefaultHttpContext's) drop what they found for the last request.
        Revision++;
        _connectionId = _traceIdentifier = null;
        _endpoints = null;
        _requestAborted = null;
        Method = _request.MethodName;
        Scheme = _request.Scheme;
        PathBase = "";
        RawTarget = _request.Target;
        Path = DotSegments.Remove(PathString.FromUriComponent(_request.Path).Value ?? "/");
        QueryString = _request.Query.Length == 0 ? "" : "?" + _request.Query;
        Protocol = _request.Version;
        _requestHeaders.Clear();
        for (int i = 0; i < _request.HeaderCount; i++)
        {
            var name = _request.HeaderName(i);
            _requestHeaders[name] = Microsoft.Extensions.Primitives.StringValues.Concat(_requestHeaders[name], _request.HeaderValue(i));
        }
        // The app's Request.Host, its host filtering and the links it builds follow the target (RFC 9112 §3.2.2).
        if (_request.Authority is { } authority) _requestHeaders["Host"] = authority;
        Headers = _requestHeaders;
        Body = _body;
        BeginRouting();
        BeginResponse();
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
    public string Protocol { get; set; } = "";
    public string Scheme { get; set; } = "";
    public string Method { get; set; } = "";
    public string PathBase { get; set; } = "";
    public string Path { get; set; } = "";
    public string QueryString { get; set; } = "";
    public string RawTarget { get; set; } = "";
    public IHeaderDictionary Headers { get; set; }
    public Stream Body { get; set; } = Stream.Null;

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
