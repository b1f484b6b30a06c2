using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.Tls;

/// <summary>
/// The workers of one master share their session-ticket keys (SharedTicketKeys), so a client resumes its TLS session
/// on whichever worker its next connection lands, and still after a reload; a renewed certificate ends the old sessions.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public partial class SessionResumptionTests(ITestOutputHelper output) : IDisposable
{
    private const int Reconnections = 12;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(40);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task A_session_resumes_on_every_worker_and_after_a_reload(string version)
    {
        var (cert, key, _) = _certificates.Server("server");
        await using var master = await MasterProcess.StartReadyAsync(2, ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key], output);
        int port = TlsTests.TlsPort(master);
        var session = Path.Combine(_certificates.Folder, $"session{version}.pem");
        var first = await ConnectAsync(port, version, "-sess_out", session);
        Assert.False(first.Resumed, first.Output);

        await AllResumeAsync(port, version, session, master.WorkerPids);

        // A reload with the same certificate: the new generation has the same keys.
        int mark = master.LineCount;
        var old = master.WorkerPids.ToList();
        Assert.True(master.Signal(Native.SIGHUP));
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound, mark);
        foreach (var pid in old) await master.WaitForLineAsync(new Regex($@"\(pid {pid}\) exited with code 0"), Bound, mark);
        await AllResumeAsync(port, version, session, master.WorkerPids);

        // A renewed certificate: the session made under the old one is not resumed, so the client sees the new one.
        var (newCert, newKey, _) = _certificates.Server("renewed");
        File.Move(newCert, cert, overwrite: true);
        File.Move(newKey, key, overwrite: true);
        mark = master.LineCount;
        old = master.WorkerPids.ToList();
        Assert.True(master.Signal(Native.SIGHUP));
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound, mark);
        foreach (var pid in old) await master.WaitForLineAsync(new Regex($@"\(pid {pid}\) exited with code 0"), Bound, mark);
        var renewed = await ConnectAsync(port, version, "-sess_in", session);
        Assert.False(renewed.Resumed, renewed.Output);
    }

    /// <summary>Every reconnection with the saved session resumes it, and they reach every one of <paramref name="workers"/>.</summary>
    private static async Task AllResumeAsync(int port, string version, string session, IReadOnlyList<int> workers)
    {
        var servedBy = new HashSet<int>();
        for (int i = 0; i < Reconnections; i++)
        {
            var again = await ConnectAsync(port, version, "-sess_in", session);
            Assert.True(again.Resumed, $"reconnection {i + 1} was a full handshake:\n{again.Output}");
            servedBy.Add(again.Pid);
        }
        // Otherwise the test would prove nothing: idle workers take turns at accepting, so both serve.
        Assert.Equal(workers.Order(), servedBy.Order());
    }

    private static async Task<(bool Resumed, int Pid, string Output)> ConnectAsync(int port, string version, string sessionFlag, string session)
    {
        var result = await Tool.RunAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", "-servername", "localhost", version,
            sessionFlag, session, "-ign_eof"], stdin: "GET /worker HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        Assert.True(result.ExitCode == 0, result.ToString());
        var pid = PidRegex().Match(result.Stdout);
        Assert.True(pid.Success, result.ToString());
        // s_client says "New, TLSv1.3, Cipher is ..." after a full handshake, "Reused, ..." after a resumed one.
        return (result.Stdout.Contains("\nReused, ", StringComparison.Ordinal), int.Parse(pid.Groups["pid"].Value), result.Stdout);
    }

    [GeneratedRegex(@"""pid"":(?<pid>\d+)")]
    private static partial Regex PidRegex();
}
