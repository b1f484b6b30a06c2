using System.Text;
using System.Text.RegularExpressions;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// How Kestrel's answer and Prefork's may differ, and the one place that says so. Everything else in a response
/// (status, version, every header field, body, the connection living on) must be equal.
/// </summary>
internal static partial class ResponseDifferences
{
    /// <summary>Fields each server writes for itself, not for the app.</summary>
    private static readonly Dictionary<string, string> ServersOwn = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Date"] = "the second each server answered in",
        ["Server"] = "each server names itself",
        // Framing (RFC 9112 §6): Kestrel streams what an app writes and flushes, chunked; Prefork's engine buffers
        // a small body and sends it with its length. Either delimits the same body, so the bodies are compared
        // decoded, and the lengths when both send one.
        ["Content-Length"] = "framing",
        ["Transfer-Encoding"] = "framing",
    };

    // The reason phrase is not compared: a client ignores it (RFC 9112 §4), and the engine writes its own.

    /// <summary>
    /// Problem details carry the request's trace id, unique to each request. Its form differs too: Kestrel's is its
    /// connection id and the request's number on it; Prefork has no request identifier feature, so the framework
    /// makes a fresh id.
    /// </summary>
    [GeneratedRegex("\"traceId\":\"[^\"]*\"")]
    private static partial Regex TraceId();

    public static List<string> Between(Answer kestrel, Answer prefork)
    {
        var differences = new List<string>();
        if (kestrel.Response is not { } k || prefork.Response is not { } p)
        {
            if (!CutShortOrFailed(kestrel, prefork)) differences.Add($"response cut short {kestrel.Response == null} / {prefork.Response == null}");
            return differences;
        }
        if (k.Version != p.Version) differences.Add($"version {k.Version} / {p.Version}");
        if (k.Status != p.Status) differences.Add($"status {k.Status} / {p.Status}");

        // An HTTP/1.0 body of unknown length ends with the connection (RFC 9112 §6.3): Kestrel streams a body it
        // cannot chunk that way, where Prefork's engine, having buffered it, can send its length and keep the
        // connection. Whether the connection lives on (and the Connection field that says so) is then the framing's.
        bool framedByClose = EndsWithConnection(k) || EndsWithConnection(p);
        var kFields = Fields(k);
        var pFields = Fields(p);
        foreach (var name in kFields.Keys.Union(pFields.Keys, StringComparer.OrdinalIgnoreCase))
        {
            if (ServersOwn.ContainsKey(name) || framedByClose && name.Equals("Connection", StringComparison.OrdinalIgnoreCase)) continue;
            var kValue = kFields.GetValueOrDefault(name);
            var pValue = pFields.GetValueOrDefault(name);
            if (kValue != pValue) differences.Add($"{name}: {kValue ?? "(none)"} / {pValue ?? "(none)"}");
        }
        if (k.Header("Content-Length") is { } kLength && p.Header("Content-Length") is { } pLength && kLength != pLength)
        {
            differences.Add($"Content-Length: {kLength} / {pLength}");
        }

        if (Body(k) != Body(p)) differences.Add($"body of {k.Body.Length} / {p.Body.Length} bytes");
        if (!framedByClose && kestrel.KeptAlive != prefork.KeptAlive)
        {
            differences.Add($"connection kept alive {kestrel.KeptAlive} / {prefork.KeptAlive}");
        }
        return differences;
    }

    /// <summary>
    /// An app that fails after starting its response: Kestrel has sent the head and can only cut the connection;
    /// Prefork's engine, still holding a small response whole, answers 500 and closes instead. Either way the
    /// client cannot take the part for the whole.
    /// </summary>
    private static bool CutShortOrFailed(Answer kestrel, Answer prefork) =>
        kestrel.Response == null
        && (prefork.Response == null || prefork.Response is { Status: 500 } && !prefork.KeptAlive && prefork.Response.Header("Connection") == "close");

    private static bool EndsWithConnection(RawResponse response) =>
        response.Body.Length > 0 && !response.HasHeader("Content-Length") && !response.HasHeader("Transfer-Encoding");

    /// <summary>The body as Latin-1 (one char per byte, so binary bodies compare exactly), trace ids blanked.</summary>
    private static string Body(RawResponse response) => TraceId().Replace(Encoding.Latin1.GetString(response.Body), "\"traceId\":\"\"");

    /// <summary>Each field name with its values in the order sent (repeated fields such as Set-Cookie keep theirs).</summary>
    private static Dictionary<string, string> Fields(RawResponse response)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in response.Headers)
        {
            fields[name] = fields.TryGetValue(name, out var earlier) ? earlier + "\n" + value : value;
        }
        return fields;
    }
}
