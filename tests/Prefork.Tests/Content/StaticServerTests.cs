using System.Net.Sockets;
using System.Text;
using Prefork.Tests.Server;

namespace Prefork.Tests.Content;

/// <summary>--root in the real server: files, HEAD, 304, the fall-through to the app, and sendfile's flat memory.</summary>
public sealed class StaticServerTests : IClassFixture<ContentTree>
{
    private readonly ContentTree _tree;

    public StaticServerTests(ContentTree tree) => _tree = tree;

    [Fact]
    public async Task Files_first_then_the_app()
    {
        await using var server = await ContentServer.StartAsync(2, "--root", _tree.Root);
        var page = await server.SendAsync("GET", "/");
        Assert.Equal((200, "<h1>home</h1>\n", "text/html; charset=utf-8"), (page.Status, page.Text, page.Header("Content-Type")));

        var head = await server.SendAsync("HEAD", "/digits.txt");
        Assert.Equal((200, "20", 0), (head.Status, head.Header("Content-Length"), head.Body.Length));

        var notModified = await server.SendAsync("GET", "/digits.txt", "If-None-Match: " + head.Header("ETag"));
        Assert.Equal((304, 0, null), (notModified.Status, notModified.Body.Length, notModified.Header("Content-Length")));

        // Not in the root: the demo app answers.
        Assert.Equal("Hello, World!", (await server.SendAsync("GET", "/hello")).Text);
        Assert.Equal(404, (await server.SendAsync("GET", "/nothing-here.txt")).Status);
        Assert.Equal(405, (await server.SendAsync("POST", "/digits.txt")).Status);
    }

    [Fact]
    public async Task A_prefix_keeps_the_rest_for_the_app()
    {
        await using var server = await ContentServer.StartAsync(1, "--root", _tree.Root, "--root-prefix", "/static/");
        Assert.Equal(ContentTree.Digits, (await server.SendAsync("GET", "/static/digits.txt")).Text);
        Assert.Equal("Hello, World!", (await server.SendAsync("GET", "/")).Text);
        Assert.Equal(404, (await server.SendAsync("GET", "/digits.txt")).Status);
    }

    [Fact]
    public async Task Keep_alive_survives_files_ranges_and_304s_on_one_connection()
    {
        await using var server = await ContentServer.StartAsync(1, "--root", _tree.Root);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", server.Port);
        const string Get = "GET /digits.txt HTTP/1.1\r\nHost: t\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            Get + "\r\n" + Get + "Range: bytes=-2\r\n\r\n" + "HEAD /site.css HTTP/1.1\r\nHost: t\r\n\r\n" + Get + "Connection: close\r\n\r\n"));
        using var received = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0) received.Write(buffer, 0, n);
        var text = Encoding.ASCII.GetString(received.ToArray());
        Assert.Equal(4, text.Split("HTTP/1.1 ").Length - 1);
        Assert.Contains("\r\n\r\nij", text);
        Assert.EndsWith("\r\n\r\n" + ContentTree.Digits, text);
    }

    [Fact]
    public async Task A_large_file_goes_out_with_sendfile_and_the_worker_memory_stays_flat()
    {
        // Four times the growth allowed below: a server that buffered the file would show it. Not more: the
        // kernel fills the sparse file's page cache with zeros and the client copies every byte, CPU the other
        // tests need.
        const long Size = 256L << 20;
        var big = Path.Combine(_tree.Root, "big.bin");
        using (var file = File.Create(big)) file.SetLength(Size); // sparse: no disk, page cache of zeros
        try
        {
            await using var server = await ContentServer.StartAsync(1, "--root", _tree.Root);
            long before = ProcFs.RssKiB(server.WorkerPids[0]);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", server.Port);
            await socket.SendAsync("GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"u8.ToArray());
            long total = 0;
            var buffer = new byte[1 << 20];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) total += n;
            long after = ProcFs.RssKiB(server.WorkerPids[0]);

            Assert.True(total > Size, $"received {total} bytes");
            Assert.True(after - before < 64 * 1024, $"worker RSS grew from {before} kB to {after} kB while sending {Size >> 20} MiB");
        }
        finally
        {
            File.Delete(big);
        }
    }
}
