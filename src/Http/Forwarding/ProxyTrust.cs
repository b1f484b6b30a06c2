namespace Prefork.Http;

/// <summary>
/// Whom the engine believes about a client's address and scheme: the PROXY protocol header, from the peers on
/// <see cref="ProxyAllowFrom"/> when <see cref="ProxyProtocol"/> is on, and X-Forwarded-For / X-Forwarded-Proto
/// from the peers on <see cref="ForwardedAllowIps"/>. Defaults follow gunicorn's.
/// </summary>
public sealed record ProxyTrust
{
    /// <summary>Every connection starts with a PROXY header (v1 or v2); one without is closed.</summary>
    public bool ProxyProtocol { get; init; }

    /// <summary>Peers that may send a PROXY header; any other is closed before a byte is read.</summary>
    public AddressList ProxyAllowFrom { get; init; } = AddressList.Default;

    /// <summary>Peers (as the PROXY header names them, when there is one) whose X-Forwarded-* headers are believed.</summary>
    public AddressList ForwardedAllowIps { get; init; } = AddressList.Default;
}
