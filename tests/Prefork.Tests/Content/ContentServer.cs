using System.Net.Sockets;
using System.Text;

using Prefork.Tests.Server;

namespace Prefork.Tests.Content;

/// <summary>
/// The real master (started and stopped by the shared <see cref="MasterProcess"/> harness), plus what the
/// content tests need on top: a raw request, written as given so hostile paths reach the server
/// unnormalised, and its response read to the end.
/// </summary>
public sealed class ContentServer : IAsyncDisposable
{
    private readonly MasterProcess _master;

    private ContentServer(MasterProcess master) => _master = master;

    public int Port => _master.Port;
    public IReadOnlyList<int> WorkerPids => _master.WorkerPids;
    public string Log => _master.Log;
    public IReadOnlyList<string> StdoutLines => _master.StdoutLines;

    /// <summary>The master on 127.0.0.1:0 with the given flags, once every worker is ready.</summary>
    public static Task<ContentServer> StartAsync(int workers, params string[] flags) =>
        StartAsync(new Dictionary<string, string>(), workers, flags);

    /// <summary>The same, with <paramref name="environment"/> added to the master's (and so to its workers').</summary>
    public static async Task<ContentServer> StartAsync(IReadOnlyDictionary<string, string> environment, int workers, params string[] flags) =>
        new(await MasterProcess.StartReadyAsync(workers, flags, environment: environment));

    /// <summary>Starts the master and returns without waiting for it: for runs that are meant to fail.</summary>
    public static async Task<ContentServer> LaunchAsync(IEnumerable<string> arguments)
    {
        var master = await MasterProcess.StartAsync(arguments, defaultBind: false);
        master.ExpectCritical = true;
        master.ExpectUnhandledException = true;
        return new ContentServer(master);
    }

    public Task<int> WaitForExitAsync(TimeSpan timeout) => _master.WaitForExitAsync(timeout);

    public Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout) => _master.WaitForLineAsync(match, timeout);

    public Task<RawResponse> SendAsync(string method, string target, params string[] headers) => SendWithBodyAsync(method, target, [], headers);

    public async Task<RawResponse> SendWithBodyAsync(string method, string target, byte[] body, params string[] headers)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", Port);
        var length = body.Length > 0 ? $"Content-Length: {body.Length}\r\n" : "";
        var request = $"{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{length}{string.Concat(headers.Select(h => h + "\r\n"))}\r\n";
        await socket.SendAsync((byte[])[.. Encoding.Latin1.GetBytes(request), .. body]);
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) received.Write(buffer, 0, n);
        return RawResponse.Parse(received.ToArray());
    }

    public ValueTask DisposeAsync() => _master.DisposeAsync();
}

/// <summary>A response as bytes on the wire: status, headers (first of each name), body.</summary>
public sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);
    public string? Header(string name) => Headers.GetValueOrDefault(name);

    public static RawResponse Parse(byte[] bytes)
    {
        int end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0) throw new InvalidDataException($"no complete response head in {bytes.Length} bytes");
        var lines = Encoding.Latin1.GetString(bytes, 0, end).Split("\r\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            headers.TryAdd(line[..colon], line[(colon + 1)..].Trim());
        }
        return new RawResponse(int.Parse(lines[0].Split(' ')[1]), headers, bytes[(end + 4)..]);
    }
}
