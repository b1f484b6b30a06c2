using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.Tls;

/// <summary>A renewed certificate goes live on HUP: each new worker reads the files, while the old ones finish their connections.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class TlsReloadTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(40);
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public async Task Hup_serves_a_renewed_certificate_to_new_connections_and_none_fails()
    {
        var (cert, key, oldSerial) = _certificates.Server("old");
        await using var master = await MasterProcess.StartReadyAsync(2, ["--bind", "https://127.0.0.1:0", "--certfile", cert, "--keyfile", key], output);
        int port = TlsTests.TlsPort(master);
        var old = master.WorkerPids.ToList();

        var serials = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var answer = await TlsClient.GetAsync(port);
                    if (answer.Status == 200) serials.Enqueue(answer.Serial);
                    else failures.Enqueue($"status {answer.Status}");
                }
                catch (Exception e)
                {
                    failures.Enqueue(e.Message);
                }
            }
        })).ToList();
        await WaitForAsync(() => serials.Count >= 20);

        // The renewal, as certbot makes it: new files moved into place, then a reload.
        var (newCert, newKey, newSerial) = _certificates.Server("new");
        File.Move(newCert, cert, overwrite: true);
        File.Move(newKey, key, overwrite: true);
        int mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGHUP));
        await master.WaitForCountAsync(MasterProcess.ReadyRegex(), 2, Bound, mark);
        foreach (var pid in old) await master.WaitForLineAsync(new Regex($@"\(pid {pid}\) exited with code 0"), Bound, mark);
        int before = serials.Count;
        await WaitForAsync(() => serials.Count >= before + 40);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        Assert.True(failures.IsEmpty, $"{failures.Count} failed connections:\n{string.Join("\n", failures.Take(10))}");
        var all = serials.ToList();
        Assert.Equal(oldSerial, all[0]);
        // Every connection made once the old workers were gone saw the new certificate.
        Assert.All(all.Skip(before), s => Assert.Equal(newSerial, s));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = Environment.TickCount64 + (long)Bound.TotalMilliseconds;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "timed out waiting for the clients");
            await Task.Delay(50);
        }
    }
}
