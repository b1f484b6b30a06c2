using System.Net;
using System.Net.Sockets;

namespace Prefork.Tests.Connections;

/// <summary>
/// The seal the last server on a listening socket puts on it before emptying its queue: what is queued stays
/// and can be taken, nothing new gets in, and once closed the port refuses.
/// </summary>
public sealed class ListenerSealTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task A_sealed_listener_keeps_its_queue_and_lets_nobody_new_in(string address)
    {
        var loopback = IPAddress.Parse(address);
        using var listener = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(loopback, 0));
        listener.Listen(16);
        var endPoint = listener.LocalEndPoint!;
        using var queued = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await queued.ConnectAsync(endPoint);
        await queued.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());

        Assert.True(ListenerSeal.TrySeal((int)listener.SafeHandle.DangerousGetHandle()));

        // A handshake the seal drops is not refused either: the client's connect stays pending (and would retry).
        using var late = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        var lateConnect = late.ConnectAsync(endPoint);
        using var accepted = await listener.AcceptAsync().WaitAsync(Bound);
        var request = new byte[64];
        int n = await accepted.ReceiveAsync(request).WaitAsync(Bound);
        Assert.Equal("GET / HTTP/1.1\r\n\r\n", System.Text.Encoding.ASCII.GetString(request, 0, n));
        await accepted.SendAsync("ok"u8.ToArray());
        Assert.Equal(2, await queued.ReceiveAsync(new byte[8]).WaitAsync(Bound));

        // The accepted connection inherited the filter; it still carries data both ways (above), and the queue is
        // empty: the late client never got in. Its connect is still pending after its first SYN was dropped.
        Assert.False(listener.Poll(TimeSpan.FromMilliseconds(300), SelectMode.SelectRead), "a client got into a sealed queue");
        Assert.False(lateConnect.IsCompleted, "the late client's connect finished while the listener was sealed");

        listener.Close();
        var refused = await Assert.ThrowsAsync<SocketException>(() => lateConnect.WaitAsync(Bound));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public void A_unix_socket_is_not_sealed()
    {
        var path = Path.Combine(Path.GetTempPath(), $"prefork-seal-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            listener.Listen(4);
            Assert.False(ListenerSeal.TrySeal((int)listener.SafeHandle.DangerousGetHandle()));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
