using System.Globalization;
using Prefork.Worker.Http;

namespace Prefork.Worker;

/// <summary>
/// Apache's combined log format, one line per request. Every worker appends to the same file; each line
/// leaves in one append-mode write, so lines are whole and never interleave.
/// </summary>
public sealed class AccessLog(string path)
{
    private readonly object _gate = new();
    private StreamWriter _writer = Log.OpenAppend(path);

    public void Write(string remoteAddress, HttpRequest request, int status, long bodyBytes)
    {
        // %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
        var now = DateTimeOffset.Now;
        var zone = $"{(now.Offset < TimeSpan.Zero ? '-' : '+')}{Math.Abs(now.Offset.Hours):00}{Math.Abs(now.Offset.Minutes):00}";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{remoteAddress} - - [{now:dd/MMM/yyyy:HH:mm:ss} {zone}] \"{Escape(request.MethodName)} {Escape(request.Target)} {request.Version}\" " +
            $"{status} {(bodyBytes > 0 ? bodyBytes.ToString(CultureInfo.InvariantCulture) : "-")} " +
            $"\"{Escape(request.GetHeader("Referer") ?? "-")}\" \"{Escape(request.GetHeader("User-Agent") ?? "-")}\"\n");
        lock (_gate)
        {
            _writer.Write(line);
            _writer.Flush();
        }
    }

    public void Reopen()
    {
        var writer = Log.OpenAppend(path);
        lock (_gate)
        {
            _writer.Dispose();
            _writer = writer;
        }
    }

    /// <summary>Quotes and control characters are escaped so a client cannot forge a log line.</summary>
    private static string Escape(string s)
    {
        if (!s.AsSpan().ContainsAny("\"\\\n\r\t")) return s;
        return s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t");
    }
}
