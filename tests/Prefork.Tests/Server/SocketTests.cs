using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>Where the listening sockets come from (systemd socket activation, a Unix socket path, several --bind).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class SocketTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static string MasterPath => Path.Combine(AppContext.BaseDirectory, "Prefork.Master");

    /// <summary>
    /// Starts the master as systemd would: the test's listening socket as descriptor 3, LISTEN_FDS=1 and
    /// LISTEN_PID set to the master's pid (the shell's, which exec keeps) or to <paramref name="listenPid"/>.
    /// </summary>
    private async Task<MasterProcess> StartActivatedAsync(Socket listener, string extraArgs, string listenPid = "$$")
    {
        int fd = (int)listener.SafeHandle.DangerousGetHandle();
        // .NET opens everything close-on-exec; clearing it lets the shell inherit the socket.
        Native.ClearCloseOnExec(fd);
        var move = fd == 3 ? "" : $"exec 3<&{fd} {fd}<&-; ";
        var script = $"{move}LISTEN_FDS=1 LISTEN_PID={listenPid} exec '{MasterPath}' --workers 2 {extraArgs}";
        return await MasterProcess.StartAsync(["-c", script], output, program: "/bin/bash");
    }

    private static Socket Listen()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(128);
        return listener;
    }

    [Fact]
    public async Task Systemd_socket_activation_serves_on_the_inherited_socket_and_binds_nothing()
    {
        var dir = Directory.CreateTempSubdirectory("prefork-systemd-");
        try
        {
            var listener = Listen();
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            // If the master bound its --bind instead of using the inherited socket, this file would appear.
            var probe = Path.Combine(dir.FullName, "must-not-exist.sock");
            // The test's copy stays open, as systemd's does while the service stops and starts again.
            using var systemdCopy = listener;
            await using var master = await StartActivatedAsync(listener, $"--bind unix:{probe}");
            await master.WaitForReadyAsync(2, Bound);

            Assert.Equal(port, master.Port);
            var listening = master.Lines.Where(l => MasterProcess.AnyListeningRegex().IsMatch(l)).ToList();
            Assert.Equal([$"Listening at: http://127.0.0.1:{port} (master pid {master.MasterPid})"],
                listening.Select(l => l[l.IndexOf("Listening", StringComparison.Ordinal)..]));
            Assert.False(File.Exists(probe), "the master bound its --bind address despite LISTEN_FDS");
            for (int i = 0; i < 10; i++)
            {
                var r = await RawHttpConnection.GetAsync(port, "/hello");
                Assert.Equal(200, r.Status);
                Assert.Equal("Hello, World!", r.BodyText);
            }
            Assert.Contains((await RawHttpConnection.GetAsync(port, "/worker")).WorkerPid, master.WorkerPids);

            Assert.True(master.Signal(Native.SIGTERM));
            Assert.Equal(0, await master.WaitForExitAsync(Bound));
            // A server that is not the socket's last holder must not seal it: the next client still gets into the
            // queue, for the service's next start.
            using var next = await RawHttpConnection.ConnectAsync(port);
            using var waiting = await listener.AcceptAsync().WaitAsync(Bound);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Systemd_variables_for_another_pid_are_ignored_and_the_master_binds_its_own()
    {
        using var listener = Listen();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using var master = await StartActivatedAsync(listener, "--bind 127.0.0.1:0", listenPid: "1");
        await master.WaitForReadyAsync(2, Bound);
        Assert.NotEqual(port, master.Port);
        Assert.Equal(200, (await RawHttpConnection.GetAsync(master.Port, "/hello")).Status);
    }

    [Fact]
    public async Task A_sync_worker_on_two_listeners_answers_on_both_without_waiting()
    {
        // One worker with room for one connection: a connection on either socket must get that room at once,
        // not wait while the worker sits in accept on the other, quiet one.
        await using var master = await MasterProcess.StartAsync(
            ["--workers", "1", "-k", "sync", "--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0"], output);
        await master.WaitForReadyAsync(1, Bound);
        var ports = master.Lines.Select(l => MasterProcess.ListeningRegex().Match(l)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups["port"].Value)).ToList();
        Assert.Equal(2, ports.Distinct().Count());

        var prompt = TimeSpan.FromSeconds(2);
        foreach (var port in Enumerable.Repeat(ports[0], 10).Concat(Enumerable.Repeat(ports[1], 10)).Concat(Enumerable.Range(0, 10).Select(i => ports[i % 2])))
        {
            await using var c = await RawHttpConnection.ConnectAsync(port);
            await c.SendAsync("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Assert.Equal("Hello, World!", (await c.ReadResponseAsync(timeout: prompt)).BodyText);
        }
    }

    [Fact]
    public async Task Unix_socket_serves_requests_and_its_file_is_removed_on_stop()
    {
        var dir = Directory.CreateTempSubdirectory("prefork-unix-");
        try
        {
            var path = Path.Combine(dir.FullName, "p.sock");
            await using var master = await MasterProcess.StartAsync(["--workers", "2", "--bind", $"unix:{path}"], output);
            await master.WaitForReadyAsync(2, Bound);
            Assert.Contains(master.Lines, l => l.Contains($"Listening at: unix:{path} (master pid {master.MasterPid})", StringComparison.Ordinal));
            Assert.True(File.Exists(path));

            await using var load = KeepAliveLoad.Start(() => RawHttpConnection.ConnectUnixAsync(path), clients: 4, budget: 100);
            await load.CompleteAsync(Bound);
            Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
            Assert.Equal(100, load.Succeeded);

            // A second server on the same path refuses to start: a live server answers there.
            await using (var second = await MasterProcess.StartAsync(["--workers", "1", "--bind", $"unix:{path}"], output))
            {
                Assert.Equal(1, await second.WaitForExitAsync(Bound));
                Assert.Contains(second.Lines, l => l.StartsWith("error:", StringComparison.Ordinal) && l.Contains("another server is listening", StringComparison.Ordinal));
            }
            Assert.True(File.Exists(path), "the refused second server removed the live server's socket file");

            Assert.True(master.Signal(Native.SIGTERM));
            Assert.Equal(0, await master.WaitForExitAsync(Bound));
            Assert.False(File.Exists(path), "the socket file is still there after a stop");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Stale_unix_socket_file_does_not_stop_a_new_master()
    {
        var dir = Directory.CreateTempSubdirectory("prefork-stale-");
        try
        {
            var path = Path.Combine(dir.FullName, "p.sock");
            // A server that died: its socket was bound and closed, and nobody removed the file. (.NET removes
            // the file of a socket it bound on Dispose, so the file is moved out of its reach first.)
            using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                dead.Bind(new UnixDomainSocketEndPoint(path + ".tmp"));
                dead.Listen(1);
                File.Move(path + ".tmp", path);
            }
            Assert.True(File.Exists(path), "precondition: the stale socket file exists");

            await using var master = await MasterProcess.StartAsync(["--workers", "1", "--bind", $"unix:{path}"], output);
            await master.WaitForReadyAsync(1, Bound);
            await using var c = await RawHttpConnection.ConnectUnixAsync(path);
            await c.SendAsync("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, (await c.ReadResponseAsync()).Status);

            Assert.True(master.Signal(Native.SIGTERM));
            Assert.Equal(0, await master.WaitForExitAsync(Bound));
            Assert.False(File.Exists(path));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
