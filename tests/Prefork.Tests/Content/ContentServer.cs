using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Prefork.Tests.Content;

/// <summary>
/// The real master on 127.0.0.1:0, started with the given flags and waited for until every worker says it
/// is ready (bounded, no fixed sleeps); killed, with its workers, by pid on Dispose.
/// </summary>
public sealed partial class ContentServer : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly List<string> _log = new();

    private ContentServer(Process process) => _process = process;

    public int Port { get; private set; }
    public List<int> WorkerPids { get; } = new();
    public string Log { get { lock (_log) return string.Join('\n', _log); } }

    public static ContentServer Start(int workers, params string[] flags)
    {
        var server = Launch(["--bind", "127.0.0.1:0", "--workers", workers.ToString(), .. flags]);
        try
        {
            var listening = server.WaitForLine(l => ListeningLine().IsMatch(l), BootTimeout)
                ?? throw new TimeoutException($"the master never said it was listening:\n{server.Log}");
            server.Port = int.Parse(ListeningLine().Match(listening).Groups[1].Value);
            var deadline = DateTime.UtcNow + BootTimeout;
            while (server.WorkerPids.Count < workers)
            {
                var ready = server.WaitForLine(l => ReadyLine().Match(l) is { Success: true } m && !server.WorkerPids.Contains(int.Parse(m.Groups[1].Value)),
                    deadline - DateTime.UtcNow) ?? throw new TimeoutException($"workers never became ready:\n{server.Log}");
                server.WorkerPids.Add(int.Parse(ReadyLine().Match(ready).Groups[1].Value));
            }
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Starts the master and returns without waiting for it: for runs that are meant to fail.</summary>
    public static ContentServer Launch(IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Prefork.Master")) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        var server = new ContentServer(Process.Start(info)!);
        server._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (server._log)
            {
                server._log.Add(e.Data);
                Monitor.PulseAll(server._log);
            }
        };
        server._process.BeginErrorReadLine();
        return server;
    }

    /// <summary>The master's exit code, or null if it is still running after the timeout.</summary>
    public int? WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return null;
        _process.WaitForExit(); // drains the stderr reader
        return _process.ExitCode;
    }

    /// <summary>The first log line that matches, waiting for it at most <paramref name="timeout"/>.</summary>
    public string? WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_log)
        {
            while (true)
            {
                if (_log.FirstOrDefault(match) is { } line) return line;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return null;
                Monitor.Wait(_log, left);
            }
        }
    }

    /// <summary>Sends a raw request (as written, so hostile paths reach the server unnormalised) and reads the response to its end.</summary>
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

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Listening at: http://127\.0\.0\.1:(\d+) \(master pid \d+\)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"Worker \d+ \(pid (\d+)\) ready")]
    private static partial Regex ReadyLine();
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
