using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Prefork.Http.Tls;

/// <summary>
/// A worker's TLS side, read once from <see cref="TlsSettings"/>: its certificate with the chain it sends, and
/// the one options object every handshake of the worker is made with (so OpenSSL's context, made for the first
/// handshake, serves the rest). TLS 1.2 and 1.3 only; ALPN offers http/1.1 alone. With --ca-certs a client must
/// present a certificate that chains to one of them.
/// </summary>
public sealed class TlsServer
{
    private TlsServer(SslServerAuthenticationOptions options, X509Certificate2 certificate)
    {
        Options = options;
        Certificate = certificate;
    }

    internal SslServerAuthenticationOptions Options { get; }

    public X509Certificate2 Certificate { get; }

    /// <summary>
    /// Reads the files as a worker will: <c>Problem</c> is null when they can serve, and then <c>NotAfter</c> is
    /// when the certificate expires (UTC); otherwise <c>Problem</c> is the one line saying which file is wrong and why.
    /// </summary>
    public static (string? Problem, DateTime NotAfter) Check(TlsSettings settings)
    {
        try
        {
            return (null, Load(settings).Certificate.NotAfter.ToUniversalTime());
        }
        catch (TlsSetupException e)
        {
            return (e.Message, default);
        }
    }

    /// <summary>Reads and checks the files; throws <see cref="TlsSetupException"/> with one line saying which file is wrong and why.</summary>
    public static TlsServer Load(TlsSettings settings)
    {
        RequireFile("--certfile", settings.CertFile);
        RequireFile("--keyfile", settings.KeyFile);
        if (settings.CaCerts != null) RequireFile("--ca-certs", settings.CaCerts);
        X509Certificate2 certificate;
        var chain = new X509Certificate2Collection();
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(settings.CertFile, settings.KeyFile);
            chain.ImportFromPemFile(settings.CertFile);
        }
        // A key that is not the certificate's is an ArgumentException; the rest are CryptographicExceptions.
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new TlsSetupException($"--certfile {settings.CertFile} with --keyfile {settings.KeyFile}: {e.Message}");
        }
        if (!certificate.HasPrivateKey) throw new TlsSetupException($"--keyfile {settings.KeyFile}: no private key for the certificate");

        var options = new SslServerAuthenticationOptions
        {
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            AllowRenegotiation = false,
        };
        SslCertificateTrust? trust = null;
        if (settings.CaCerts != null)
        {
            var authorities = ReadCertificates("--ca-certs", settings.CaCerts);
            // Names the acceptable authorities in the certificate request, so a client holding several picks the right one.
            trust = SslCertificateTrust.CreateForX509Collection(authorities, sendTrustInHandshake: true);
            options.ClientCertificateRequired = true;
            options.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(authorities);
            // No certificate, or one that does not chain to the authorities, is refused in the handshake.
            options.RemoteCertificateValidationCallback = static (_, _, _, errors) => errors == SslPolicyErrors.None;
        }
        // The leaf is the first certificate of the file; the rest are sent with it.
        var intermediates = new X509Certificate2Collection();
        for (int i = 1; i < chain.Count; i++) intermediates.Add(chain[i]);
        options.ServerCertificateContext = SslStreamCertificateContext.Create(certificate, intermediates, offline: true, trust);
        return new TlsServer(options, certificate);
    }

    private static X509Certificate2Collection ReadCertificates(string flag, string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (CryptographicException e)
        {
            throw new TlsSetupException($"{flag} {path}: {e.Message}");
        }
        if (certificates.Count == 0) throw new TlsSetupException($"{flag} {path}: no PEM certificate in it");
        return certificates;
    }

    private static void RequireFile(string flag, string path)
    {
        if (!File.Exists(path)) throw new TlsSetupException($"{flag}: no such file '{path}'");
    }
}

/// <summary>A certificate or key file that cannot serve; its message is one line for the operator.</summary>
public sealed class TlsSetupException(string message) : Exception(message);
