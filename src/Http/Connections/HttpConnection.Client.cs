using System.Net;
using Prefork.App;

namespace Prefork.Http;

/// <summary>What a request may ask of its connection: who the client is. Each answer is looked up once a connection, when first asked.</summary>
public sealed partial class HttpConnection : IClientConnection
{
    // The process id in the high half keeps the ids of a server's workers apart.
    private static long _lastId = (long)Environment.ProcessId << 32;

    private readonly long _id = Interlocked.Increment(ref _lastId);
    private IPEndPoint? _remoteEndPoint, _localEndPoint;
    private string? _remoteAddress, _connectionId;
    private int _requests;

    /// <summary>
    /// The client's address and port; null on a Unix socket. Behind a proxy it is trusted to speak for its clients,
    /// the client it names (HttpConnection.Proxy.cs): the request's X-Forwarded-For, else the PROXY header's source.
    /// </summary>
    public IPEndPoint? RemoteEndPoint => _forwardedClient ?? (_remoteEndPoint ??= _io.RemoteEndPoint);

    public IPEndPoint? LocalEndPoint => _localEndPoint ??= _io.LocalEndPoint;

    /// <summary>The client's IP address as text, "-" when it has none (a Unix socket).</summary>
    public string RemoteAddress => _forwardedClient != null
        ? _forwardedAddress ??= _forwardedClient.Address.ToString()
        : _remoteAddress ??= RemoteEndPoint?.Address.ToString() ?? "-";

    public string ConnectionId => _connectionId ??= _id.ToString("X16");

    public int Requests => _requests;
}
