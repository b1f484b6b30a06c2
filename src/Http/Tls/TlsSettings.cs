namespace Prefork.Http.Tls;

/// <summary>
/// Where a worker reads its certificate (--certfile, --keyfile, --ca-certs), full paths. The files, not their
/// contents, travel to the worker: each new worker reads them, so a reload serves a renewed certificate.
/// </summary>
public sealed record TlsSettings
{
    /// <summary>PEM: the certificate first, then any intermediates to send with it (a "fullchain" file).</summary>
    public required string CertFile { get; init; }

    /// <summary>PEM: the certificate's private key, unencrypted; the certificate file itself when it holds the key too.</summary>
    public required string KeyFile { get; init; }

    /// <summary>PEM: the certificates a client's certificate must chain to; null: no client certificate is asked for.</summary>
    public string? CaCerts { get; init; }
}
