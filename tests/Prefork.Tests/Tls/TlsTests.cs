using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.Tls;

/// <summary>
/// TLS of the server's own (--certfile, --keyfile, --ca-certs, https:// binds), with real clients: curl, Python's
/// ssl, openssl s_client and .NET's SslStream. Each refused handshake is followed by a request that must still be served.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public partial class TlsTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public async Task One_server_serves_a_plain_and_a_TLS_bind_and_refuses_each_wrong_client_cleanly()
    {
        var (cert, key, serial) = _certificates.Server("server");
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--bind", "http://127.0.0.1:0", "--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key, "--log-level", "debug"], output);
        int plain = master.Port, tls = TlsPort(master);
        Assert.NotEqual(0, plain);

        // curl, verifying against the CA: served, and ALPN settled on http/1.1.
        var curl = await Tool.RunAsync("curl", ["-sS", "-v", "--cacert", _certificates.CaFile, $"https://localhost:{tls}/worker"]);
        Assert.True(curl.ExitCode == 0, curl.ToString());
        Assert.Matches(@"ALPN[:,] server accepted (to use )?http/1\.1", curl.Stderr);
        Assert.Contains("\"pid\"", curl.Stdout);

        // Python's ssl, verifying, offering h2 first: the server still picks http/1.1.
        var python = await Tool.RunAsync("python3", ["-c", PythonGet, _certificates.CaFile, tls.ToString(), "localhost"]);
        Assert.True(python.ExitCode == 0, python.ToString());
        Assert.Matches(@"^http/1\.1 TLSv1\.[23] HTTP/1\.1 200", python.Stdout);

        // openssl s_client: verified chain, ALPN, and a response.
        var openssl = await Tool.RunAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{tls}", "-servername", "localhost",
            "-CAfile", _certificates.CaFile, "-verify_return_error", "-alpn", "http/1.1", "-ign_eof"],
            stdin: "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        Assert.True(openssl.ExitCode == 0, openssl.ToString());
        Assert.Contains("ALPN protocol: http/1.1", openssl.Stdout);
        Assert.Contains("Verify return code: 0 (ok)", openssl.Stdout);
        Assert.Contains("HTTP/1.1 200 OK", openssl.Stdout);

        // .NET's client sees the certificate the files hold.
        var answer = await TlsClient.GetAsync(tls);
        Assert.Equal(200, answer.Status);
        Assert.Equal(serial, answer.Serial);

        // Plain HTTP to the TLS port: a 400 that says why, as nginx answers.
        var wrongWay = await RawHttpConnection.GetAsync(tls, "/");
        Assert.Equal(400, wrongWay.Status);
        Assert.Contains("plain HTTP request sent to an HTTPS port", wrongWay.BodyText);

        // TLS to the plain port: the handshake fails at once (the ClientHello is no request line), nothing hangs.
        await Assert.ThrowsAnyAsync<Exception>(async () => await TlsClient.GetAsync(plain, bound: TimeSpan.FromSeconds(10)));
        var curlToPlain = await Tool.RunAsync("curl", ["-sS", "--cacert", _certificates.CaFile, $"https://localhost:{plain}/"]);
        Assert.Equal(35, curlToPlain.ExitCode);

        // A host the certificate does not name: a verifying client refuses it.
        var wrongHost = await Tool.RunAsync("curl", ["-sS", "--cacert", _certificates.CaFile,
            "--resolve", $"wrong.example:{tls}:127.0.0.1", $"https://wrong.example:{tls}/"]);
        Assert.True(wrongHost.ExitCode == 60, wrongHost.ToString());

        // And the one worker still serves both.
        Assert.Equal(200, (await RawHttpConnection.GetAsync(plain, "/")).Status);
        Assert.Equal(200, (await TlsClient.GetAsync(tls)).Status);
        Assert.DoesNotContain(master.Lines, l => l.Contains("[ERROR]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_certificate_alone_makes_every_bind_TLS_as_in_gunicorn()
    {
        var (cert, key, _) = _certificates.Server("server");
        // A static file, too: over TLS it goes through the stream, not sendfile.
        var site = Directory.CreateDirectory(Path.Combine(_certificates.Folder, "site"));
        var content = string.Concat(Enumerable.Range(0, 30_000).Select(i => $"{i:D9}\n"));
        File.WriteAllText(Path.Combine(site.FullName, "big.txt"), content);
        await using var master = await MasterProcess.StartAsync(["--workers", "1", "--certfile", cert, "--keyfile", key, "--root", site.FullName], output);
        var listening = await master.WaitForLineAsync(MasterProcess.AnyListeningRegex(), Bound);
        Assert.StartsWith("https://127.0.0.1:", listening.Groups["url"].Value);
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 1, Bound);
        Assert.Equal(200, (await TlsClient.GetAsync(TlsPort(master))).Status);
        var file = await TlsClient.GetAsync(TlsPort(master), "/big.txt");
        Assert.Equal(200, file.Status);
        Assert.EndsWith("\r\n\r\n" + content, file.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_PROXY_header_comes_before_the_handshake_and_names_the_client(bool withHello)
    {
        var (cert, key, _) = _certificates.Server("server");
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--certfile", cert, "--keyfile", key, "--proxy-protocol", "--access-log", "-"], output);
        var header = System.Text.Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 127.0.0.1 4711 443\r\n");
        var answer = await TlsClient.GetAsync(TlsPort(master), "/hello", preamble: header, withHello: withHello);
        Assert.Equal(200, answer.Status);
        // The access log (stdout) names the client of the header.
        var deadline = DateTime.UtcNow + Bound;
        while (!master.StdoutLines.Any(l => l.StartsWith("203.0.113.7 - - [", StringComparison.Ordinal) && l.Contains("GET /hello ")))
        {
            Assert.True(DateTime.UtcNow < deadline, "no access-log line for 203.0.113.7:\n" + string.Join("\n", master.StdoutLines));
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task An_expired_certificate_is_refused_by_verifying_clients_and_the_worker_goes_on()
    {
        var (cert, key, _) = _certificates.Server("expired", expired: true);
        await using var master = await MasterProcess.StartReadyAsync(1, ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key], output);
        int tls = TlsPort(master);
        // Served still, as before, but the master says so at start.
        await master.WaitForLineAsync(l => l.Contains($"[ERROR] --certfile {cert}: the certificate expired on ", StringComparison.Ordinal), Bound);

        var curl = await Tool.RunAsync("curl", ["-sS", "--cacert", _certificates.CaFile, $"https://localhost:{tls}/"]);
        Assert.True(curl.ExitCode == 60, curl.ToString());
        Assert.Contains("expired", curl.Stderr);
        var python = await Tool.RunAsync("python3", ["-c", PythonGet, _certificates.CaFile, tls.ToString(), "localhost"]);
        Assert.NotEqual(0, python.ExitCode);
        Assert.Contains("certificate has expired", python.Stderr);

        // A client that does not verify is still served: the server goes on.
        Assert.Equal(200, (await TlsClient.GetAsync(tls)).Status);
    }

    [Fact]
    public async Task A_client_certificate_is_required_with_ca_certs_and_one_missing_or_foreign_is_refused()
    {
        var (cert, key, _) = _certificates.Server("server");
        var (clientCert, clientKey, _) = _certificates.Client("client");
        using var foreign = new TestCertificates("Some Other CA");
        var (foreignCert, foreignKey, _) = foreign.Client("foreign");
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key, "--ca-certs", _certificates.CaFile, "--log-level", "debug"], output);
        int tls = TlsPort(master);
        string[] verify = ["-sS", "--cacert", _certificates.CaFile];

        var none = await Tool.RunAsync("curl", [.. verify, $"https://localhost:{tls}/"]);
        // Refused in the handshake (TLS 1.3: after the client's Finished, so curl may see an alert or just the close).
        Assert.True(none.ExitCode is 35 or 52 or 56, none.ToString());
        Assert.DoesNotContain("200", none.Stdout);
        // Python's client finishes a TLS 1.3 handshake before the server has judged it: it then reads an alert or the end.
        var python = await Tool.RunAsync("python3", ["-c", PythonGet, _certificates.CaFile, tls.ToString(), "localhost"]);
        Assert.DoesNotContain("HTTP/1.1 200", python.Stdout);

        var foreignOne = await Tool.RunAsync("curl", [.. verify, "--cert", foreignCert, "--key", foreignKey, $"https://localhost:{tls}/"]);
        Assert.True(foreignOne.ExitCode is 35 or 52 or 56, foreignOne.ToString());

        var good = await Tool.RunAsync("curl", [.. verify, "--cert", clientCert, "--key", clientKey, "-o", "/dev/null", "-w", "%{http_code}", $"https://localhost:{tls}/"]);
        Assert.True(good.ExitCode == 0, good.ToString());
        Assert.Equal("200", good.Stdout);
        await master.WaitForLineAsync(l => l.Contains("[DEBUG] TLS handshake with 127.0.0.1 failed", StringComparison.Ordinal), Bound);
        Assert.DoesNotContain(master.Lines, l => l.Contains("[ERROR]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_full_worker_closes_a_connection_that_sent_no_ClientHello_for_a_new_client()
    {
        var (cert, key, _) = _certificates.Server("server");
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key, "--worker-connections", "3",
             "--keep-alive", "60"], output);
        int tls = TlsPort(master);

        // Three connections that say nothing fill the worker, as they would on a plain port, where a full worker
        // closes the longest idle one for a newcomer: a silent one is no more entitled to its place over TLS.
        var silent = new List<Socket>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                silent.Add(socket);
                await socket.ConnectAsync("127.0.0.1", tls);
            }
            var answer = await TlsClient.GetAsync(tls, "/hello", bound: TimeSpan.FromSeconds(10));
            Assert.Equal(200, answer.Status);
            await ReadUntilClosedAsync(silent[0]).WaitAsync(Bound);
        }
        finally
        {
            foreach (var socket in silent) socket.Dispose();
        }
    }

    /// <summary>The worker's one request thread is the event loop; with a sync worker, also its only slot.</summary>
    [Fact]
    public async Task A_stalled_or_garbage_handshake_is_cut_and_never_holds_a_sync_worker()
    {
        var (cert, key, _) = _certificates.Server("server");
        await using var master = await MasterProcess.StartReadyAsync(1,
            ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key, "--worker-class", "sync",
             "--request-timeout", "2", "--log-level", "debug", "--metrics-bind", "127.0.0.1:0"], output);
        int tls = TlsPort(master);

        // A ClientHello's record header promising 512 bytes, and then nothing.
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await stalled.ConnectAsync("127.0.0.1", tls);
        await stalled.SendAsync(new byte[] { 22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3 }, SocketFlags.None);
        long start = Environment.TickCount64;
        var cut = ReadUntilClosedAsync(stalled);

        // While it stalls, others are served: the slot is not the stalled client's.
        Assert.Equal(200, (await TlsClient.GetAsync(tls)).Status);
        Assert.False(cut.IsCompleted, "the stalled handshake was cut before the request timeout");

        // A record that is no handshake, and bytes that are no TLS at all: closed at once.
        foreach (var garbage in new[] { new byte[] { 22, 3, 1, 0, 5, 1, 2, 3, 4, 5 }, "\0\u0001\u0002garbage"u8.ToArray() })
        {
            using var bad = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await bad.ConnectAsync("127.0.0.1", tls);
            await bad.SendAsync(garbage, SocketFlags.None);
            await ReadUntilClosedAsync(bad).WaitAsync(TimeSpan.FromSeconds(1.5));
        }

        await cut.WaitAsync(Bound);
        long took = Environment.TickCount64 - start;
        Assert.True(took >= 1500, $"cut after {took} ms, before the 2 s request timeout");
        await master.WaitForLineAsync(l => l.Contains("TLS handshake with 127.0.0.1 failed: not finished in time", StringComparison.Ordinal), Bound);
        await master.WaitForLineAsync(l => l.Contains("TLS handshake with 127.0.0.1 failed: not a TLS record", StringComparison.Ordinal), Bound);
        Assert.DoesNotContain(master.Lines, l => l.Contains("[ERROR]", StringComparison.Ordinal));

        // Counted: three failed handshakes reach the metrics with the next heartbeat.
        int metricsPort = await master.WaitForMetricsPortAsync(Bound);
        var deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
        long counted = 0;
        while ((counted = HandshakeFailures((await RawHttpConnection.GetAsync(metricsPort, "/metrics")).BodyText)) < 3 && Environment.TickCount64 < deadline)
            await Task.Delay(200);
        Assert.Equal(3, counted);
        Assert.Equal(200, (await TlsClient.GetAsync(tls)).Status);
    }

    private static long HandshakeFailures(string metrics) =>
        HandshakeMetricRegex().Matches(metrics).Sum(m => long.Parse(m.Groups["n"].Value));

    private static async Task ReadUntilClosedAsync(Socket socket)
    {
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // A reset ends it as well.
        }
    }

    internal static int TlsPort(MasterProcess master) =>
        int.Parse(master.Lines.Select(l => TlsListeningRegex().Match(l)).First(m => m.Success).Groups["port"].Value);

    /// <summary>argv: CA file, port, host. Prints the ALPN protocol, the TLS version and the status line.</summary>
    internal const string PythonGet = """
        import socket, ssl, sys
        ctx = ssl.create_default_context(cafile=sys.argv[1])
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=sys.argv[3]) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                print(s.selected_alpn_protocol(), s.version(), data.split(b"\r\n")[0].decode())
        """;

    [GeneratedRegex(@"Listening at: https://127\.0\.0\.1:(?<port>\d+) ")]
    private static partial Regex TlsListeningRegex();

    [GeneratedRegex(@"prefork_client_errors_total\{[^}]*kind=""tls_handshake""[^}]*\} (?<n>\d+)")]
    private static partial Regex HandshakeMetricRegex();
}
