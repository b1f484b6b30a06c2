using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Prefork.AspNetCore;

/// <summary>
/// Protocol upgrade, which app.UseWebSockets() takes a WebSocket handshake through: the 101 goes out as any
/// response starts (OnStarting callbacks, then status and headers to the engine), and the engine hands over
/// the connection as a stream. The engine closes it when the request's pipeline returns.
/// </summary>
internal partial class RequestFeatures : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => _request.IsUpgradeRequest;

    public async Task<Stream> UpgradeAsync()
    {
        if (!IsUpgradableRequest) throw new InvalidOperationException("the request does not ask to upgrade");
        if (HasStarted) throw new InvalidOperationException("the response has already started");
        StatusCode = StatusCodes.Status101SwitchingProtocols;
        await StartAsync();
        return await _response.UpgradeAsync();
    }
}
