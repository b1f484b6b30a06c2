using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prefork.Http.Tls;
using Prefork.Tests.AspNetCore;

namespace Prefork.Tests.Tls;

/// <summary>An ASP.NET Core app served over the engine's TLS knows it: Request.Scheme is https, Request.IsHttps true.</summary>
[Collection(HostsInProcess.Name)]
public sealed class AspNetCoreTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public async Task A_request_over_TLS_has_the_https_scheme()
    {
        var (cert, key, _) = _certificates.Server("server");
        using var transport = new LoopbackTransport(tls: TlsServer.Load(new TlsSettings { CertFile = cert, KeyFile = key }));
        await using var app = InterceptedApp.Build(transport, a => a.MapGet("/scheme", (HttpContext c) => $"{c.Request.Scheme} {c.Request.IsHttps}"));
        await app.StartAsync();

        var answer = await TlsClient.GetAsync(new Uri(transport.Addresses[0]).Port, "/scheme");
        Assert.Equal(200, answer.Status);
        Assert.EndsWith("\r\n\r\nhttps True", answer.Text);
        await app.StopAsync();
    }
}
