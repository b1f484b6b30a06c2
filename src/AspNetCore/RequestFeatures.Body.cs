using Microsoft.AspNetCore.Http.Features;

namespace Prefork.AspNetCore;

/// <summary>
/// The request body, read as it arrives: the engine runs the app once the head is parsed, as Kestrel does, and
/// Request.Body (with Request.BodyReader over it) reads from the connection. Its limit is the engine's, which
/// the app may change until it starts reading ([RequestSizeLimit], [DisableRequestSizeLimit], or this feature).
/// </summary>
internal partial class RequestFeatures : IHttpRequestBodyDetectionFeature, IHttpMaxRequestBodySizeFeature
{
    public bool CanHaveBody => _request.HasBody;

    bool IHttpMaxRequestBodySizeFeature.IsReadOnly => _request.BodyStarted;

    public long? MaxRequestBodySize
    {
        get => _request.MaxBodySize;
        set
        {
            if (_request.BodyStarted) throw new InvalidOperationException("the request body size limit cannot change once the app has started reading the body");
            ArgumentOutOfRangeException.ThrowIfNegative(value ?? 0, nameof(value));
            _request.MaxBodySize = value;
        }
    }
}
