using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Prefork.App;
using Prefork.Control;

namespace Prefork.Serving;

/// <summary>
/// One line per request, in Apache's combined or common format or as JSON. Every worker appends to the same
/// file, or writes to the master's stdout (--access-log -); each line leaves in one write(2), so lines are
/// whole and never interleave (on a pipe, POSIX makes that so for lines up to PIPE_BUF, 4 KiB).
/// </summary>
public sealed class AccessLog
{
    private readonly object _gate = new();
    private readonly string? _path;
    private readonly AccessLogFormat _format;
    private StreamWriter? _writer;
    private readonly int _fd = -1;

    public AccessLog(string path, AccessLogFormat format = AccessLogFormat.Combined)
    {
        _path = path;
        _format = format;
        _writer = Log.OpenAppend(path);
    }

    /// <summary>Writes to an inherited descriptor: the master's stdout, handed over by number (see WorkerSettings.AccessLogFd).</summary>
    public AccessLog(int fd, AccessLogFormat format)
    {
        _format = format;
        _fd = fd;
    }

    /// <summary><paramref name="started"/>: the request's <see cref="Stopwatch.GetTimestamp"/>, for the JSON format's duration_ms.</summary>
    public void Write(string remoteAddress, HttpRequest request, int status, long bodyBytes, long started = 0)
    {
        var line = _format switch
        {
            AccessLogFormat.Json => Json(remoteAddress, request, status, bodyBytes, started),
            AccessLogFormat.Common => Common(remoteAddress, request, status, bodyBytes) + "\n",
            _ => Common(remoteAddress, request, status, bodyBytes) +
                 $" \"{Escape(request.GetHeader("Referer") ?? "-")}\" \"{Escape(request.GetHeader("User-Agent") ?? "-")}\"\n",
        };
        if (_writer == null)
        {
            try
            {
                Native.WriteAll(_fd, System.Text.Encoding.UTF8.GetBytes(line));
            }
            catch (IOException)
            {
                // Nobody reads the master's stdout any more: the request was served all the same.
            }
            return;
        }
        lock (_gate)
        {
            _writer.Write(line);
            _writer.Flush();
        }
    }

    public void Reopen()
    {
        if (_path == null) return;
        var writer = Log.OpenAppend(_path);
        lock (_gate)
        {
            _writer?.Dispose();
            _writer = writer;
        }
    }

    /// <summary>Apache's common log format: %h %l %u %t "%r" %>s %b (combined adds "%{Referer}i" "%{User-agent}i").</summary>
    private static string Common(string remoteAddress, HttpRequest request, int status, long bodyBytes)
    {
        var now = DateTimeOffset.Now;
        var zone = $"{(now.Offset < TimeSpan.Zero ? '-' : '+')}{Math.Abs(now.Offset.Hours):00}{Math.Abs(now.Offset.Minutes):00}";
        return string.Create(CultureInfo.InvariantCulture,
            $"{remoteAddress} - - [{now:dd/MMM/yyyy:HH:mm:ss} {zone}] \"{Escape(request.MethodName)} {Escape(request.Target)} {request.Version}\" " +
            $"{status} {(bodyBytes > 0 ? bodyBytes.ToString(CultureInfo.InvariantCulture) : "-")}");
    }

    private static string Json(string remoteAddress, HttpRequest request, int status, long bodyBytes, long started)
    {
        double ms = started == 0 ? 0 : Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.Now.ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", CultureInfo.InvariantCulture));
            json.WriteString("remote", remoteAddress);
            json.WriteString("method", request.MethodName);
            json.WriteString("target", request.Target);
            json.WriteString("version", request.Version);
            json.WriteNumber("status", status);
            json.WriteNumber("bytes", bodyBytes);
            json.WriteNumber("duration_ms", Math.Round(ms, 3));
            json.WriteString("referer", request.GetHeader("Referer"));
            json.WriteString("user_agent", request.GetHeader("User-Agent"));
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Quotes and control characters are escaped so a client cannot forge a log line.</summary>
    private static string Escape(string s)
    {
        if (!s.AsSpan().ContainsAny("\"\\\n\r\t")) return s;
        return s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t");
    }
}
