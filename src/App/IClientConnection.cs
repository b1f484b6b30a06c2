using System.Net;

namespace Prefork.App;

/// <summary>What a request learns of the connection it came on, from the connection that owns the socket.</summary>
internal interface IClientConnection
{
    IPEndPoint? RemoteEndPoint { get; }
    IPEndPoint? LocalEndPoint { get; }
    /// <summary>"http", or the scheme a trusted proxy says the client used.</summary>
    string Scheme { get; }
    string ConnectionId { get; }
    /// <summary>True when the connection is TLS (a listener marked https, README: TLS).</summary>
    bool IsHttps { get; }
    /// <summary>The requests the connection has begun, the one running included.</summary>
    int Requests { get; }
    CancellationToken Aborted { get; }
    void Abort();
    /// <summary>The request's body limit; null for none. Settable until the body starts being read.</summary>
    long? MaxBodySize { get; set; }
    bool BodyStarted { get; }
    ValueTask<int> ReadBodyAsync(Memory<byte> into);
}
