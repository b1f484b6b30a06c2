using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Prefork.Tests.Server;

public sealed record RawResponse(string Version, int Status, string Reason, List<KeyValuePair<string, string>> Headers, byte[] Body)
{
    /// <summary>Stopwatch timestamp taken when the whole response had been read.</summary>
    public long CompletedAt { get; init; }

    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public bool HasHeader(string name) => Headers.Any(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The pid in a /worker JSON body.</summary>
    public int WorkerPid => JsonDocument.Parse(Body).RootElement.GetProperty("pid").GetInt32();

    public override string ToString() => $"{Version} {Status} {Reason} [{string.Join(", ", Headers.Select(h => $"{h.Key}: {h.Value}"))}] {BodyText}";
}

/// <summary>
/// A client connection to 127.0.0.1 speaking HTTP/1.1 by hand: writes exactly the bytes a test gives and
/// parses responses (status line, headers, Content-Length or chunked body, or body to end of stream).
/// Every read is bounded.
/// </summary>
public sealed class RawHttpConnection : IAsyncDisposable, IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[16384];
    private int _start, _end;
    private bool _eof;

    private RawHttpConnection(Socket socket) => _socket = socket;

    /// <summary>A connection to 127.0.0.1:<paramref name="port"/>, from <paramref name="from"/> (another loopback address, 127.0.0.2) when given.</summary>
    public static async Task<RawHttpConnection> ConnectAsync(int port, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from != null) socket.Bind(new IPEndPoint(from, 0));
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        return new RawHttpConnection(socket);
    }

    /// <summary>A connection to a Unix socket (--bind unix:PATH).</summary>
    public static async Task<RawHttpConnection> ConnectUnixAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cts = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new RawHttpConnection(socket);
    }

    /// <summary>This end's port: with the server's, it names the connection in the kernel's <see cref="TcpTable"/>.</summary>
    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(DefaultTimeout);
        await _socket.SendAsync(bytes, SocketFlags.None, cts.Token);
    }

    /// <summary>One GET on a fresh connection; returns the response.</summary>
    public static async Task<RawResponse> GetAsync(int port, string path, bool close = true)
    {
        await using var c = await ConnectAsync(port);
        await c.SendAsync($"GET {path} HTTP/1.1\r\nHost: localhost\r\n{(close ? "Connection: close\r\n" : "")}\r\n");
        return await c.ReadResponseAsync();
    }

    /// <summary>
    /// One request on a fresh connection, closed after it: <paramref name="headers"/> are whole header lines;
    /// a body gets its Content-Length. Returns the response.
    /// </summary>
    public static async Task<RawResponse> RequestAsync(int port, string method, string path, string body = "", params string[] headers)
    {
        await using var c = await ConnectAsync(port);
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        foreach (var header in headers) head.Append(header).Append("\r\n");
        var content = Encoding.UTF8.GetBytes(body);
        if (content.Length > 0 || method is "POST" or "PUT") head.Append($"Content-Length: {content.Length}\r\n");
        await c.SendAsync([.. Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), .. content]);
        return await c.ReadResponseAsync(head: method == "HEAD");
    }

    /// <summary>True if bytes arrive within <paramref name="wait"/> (used to check nothing was answered early).</summary>
    public async Task<bool> HasDataWithinAsync(TimeSpan wait)
    {
        if (_end > _start) return true;
        using var cts = new CancellationTokenSource(wait);
        try
        {
            int n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cts.Token);
            if (n == 0) _eof = true;
            _end += n;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Reads one response. For a HEAD request pass <paramref name="head"/> so no body is expected. Interim 1xx responses are returned too.</summary>
    public async Task<RawResponse> ReadResponseAsync(bool head = false, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var token = cts.Token;
        var statusLine = await ReadLineAsync(token) ?? throw new EndOfStreamException("connection closed before a response");
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal))
            throw new InvalidDataException($"bad status line '{statusLine}'");
        int status = int.Parse(parts[1]);
        var headers = new List<KeyValuePair<string, string>>();
        while (true)
        {
            var line = await ReadLineAsync(token) ?? throw new EndOfStreamException("connection closed inside a response head");
            if (line.Length == 0) break;
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new InvalidDataException($"bad header line '{line}'");
            headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }
        var response = new RawResponse(parts[0], status, parts.Length > 2 ? parts[2] : "", headers, []);
        byte[] body;
        if (head || status is >= 100 and < 200 or 204 or 304)
        {
            body = [];
        }
        else if (response.Header("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)
        {
            var ms = new MemoryStream();
            while (true)
            {
                var sizeLine = await ReadLineAsync(token) ?? throw new EndOfStreamException("closed inside chunked body");
                int size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    while ((await ReadLineAsync(token))?.Length > 0) { }
                    break;
                }
                ms.Write(await ReadExactlyAsync(size, token));
                await ReadLineAsync(token);
            }
            body = ms.ToArray();
        }
        else if (response.Header("Content-Length") is { } length)
        {
            body = await ReadExactlyAsync(int.Parse(length), token);
        }
        else
        {
            // Delimited by the end of the connection (RFC 9112 §6.3): taken as it comes, as it may outgrow the buffer.
            var ms = new MemoryStream();
            do
            {
                ms.Write(_buffer, _start, _end - _start);
                _start = _end;
            }
            while (await FillAsync(token));
            body = ms.ToArray();
        }
        return response with { Body = body, CompletedAt = Stopwatch.GetTimestamp() };
    }

    /// <summary>True when the server closes the connection (end of stream, or a reset) within the timeout, with no further bytes.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan? timeout = null)
    {
        if (_end > _start) return false;
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return !await FillAsync(cts.Token) && _end == _start;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> raw bytes (what follows a 101, say).</summary>
    public async Task<byte[]> ReadBytesAsync(int count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        return await ReadExactlyAsync(count, cts.Token);
    }

    private async Task<string?> ReadLineAsync(CancellationToken token)
    {
        while (true)
        {
            int nl = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (nl >= 0)
            {
                var line = Encoding.ASCII.GetString(_buffer, _start, nl - _start).TrimEnd('\r');
                _start = nl + 1;
                return line;
            }
            if (!await FillAsync(token)) return null;
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken token)
    {
        var result = new byte[count];
        int got = 0;
        while (got < count)
        {
            if (_end == _start && !await FillAsync(token)) throw new EndOfStreamException($"body ended after {got} of {count} bytes");
            int take = Math.Min(count - got, _end - _start);
            Array.Copy(_buffer, _start, result, got, take);
            _start += take;
            got += take;
        }
        return result;
    }

    private async Task<bool> FillAsync(CancellationToken token)
    {
        if (_eof) return false;
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) throw new InvalidDataException("response line or head too long for the test client");
        int n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, token);
        if (n == 0)
        {
            _eof = true;
            return false;
        }
        _end += n;
        return true;
    }

    /// <summary>Half-closes: the server sees end of stream, and this side can still read.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Closes with a reset (SO_LINGER 0) instead of a FIN.</summary>
    public void Abort()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Dispose();
    }

    public void Dispose() => _socket.Dispose();

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
