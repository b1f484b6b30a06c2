using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Prefork.Tests.Tls;

/// <summary>
/// Certificates made at test time, written as PEM files to a directory of their own: a CA, and what it signs
/// (server certificates for localhost and 127.0.0.1, valid or expired, and a client certificate). No key is committed.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("prefork-tls-");
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _ca;

    public TestCertificates(string caName = "Prefork Test CA")
    {
        var request = new CertificateRequest($"CN={caName}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(365));
        CaFile = Write("ca.pem", _ca.ExportCertificatePem());
    }

    public string Folder => _directory.FullName;

    /// <summary>The CA's certificate: what a verifying client trusts, and what --ca-certs names.</summary>
    public string CaFile { get; }

    /// <summary>
    /// A server certificate for localhost and 127.0.0.1, valid for 10 days unless <paramref name="until"/> says
    /// otherwise; returns (certificate file, key file, serial).
    /// </summary>
    public (string Cert, string Key, string Serial) Server(string name, bool expired = false, string host = "localhost", DateTimeOffset? until = null)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(host);
        if (host == "localhost") san.AddIpAddress(IPAddress.Loopback);
        var from = expired ? DateTimeOffset.UtcNow.AddDays(-10) : DateTimeOffset.UtcNow.AddDays(-1);
        until ??= expired ? DateTimeOffset.UtcNow.AddDays(-2) : DateTimeOffset.UtcNow.AddDays(10);
        return Issue(name, $"CN={host}", from, until.Value, "1.3.6.1.5.5.7.3.1", san.Build());
    }

    /// <summary>A client certificate signed by this CA.</summary>
    public (string Cert, string Key, string Serial) Client(string name) =>
        Issue(name, "CN=prefork test client", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), "1.3.6.1.5.5.7.3.2", null);

    private (string, string, string) Issue(string name, string subject, DateTimeOffset from, DateTimeOffset until, string usage, X509Extension? san)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (san != null) request.CertificateExtensions.Add(san);
        var serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7f;
        using var certificate = request.Create(_ca, from, until, serial);
        return (Write($"{name}.pem", certificate.ExportCertificatePem()), Write($"{name}.key", key.ExportPkcs8PrivateKeyPem()), certificate.SerialNumber);
    }

    private string Write(string name, string pem)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllText(path, pem + "\n");
        return path;
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
        _directory.Delete(recursive: true);
    }
}
