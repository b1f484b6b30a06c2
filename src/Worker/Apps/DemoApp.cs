using System.Globalization;
using Prefork.App;
using Prefork.Control;

namespace Prefork.Worker.Apps;

/// <summary>
/// The built-in app: the tutorial's greeting, plus what the concurrency demo needs: a slow endpoint, an
/// echo, and a page that says which worker answered.
/// </summary>
public sealed class DemoApp(WorkerSettings settings, Func<long> requestsServed) : IHttpApp
{
    private const int MaxSleepMs = 60_000;
    private static readonly byte[] Hello = "Hello, World!"u8.ToArray();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        if (request.Method == Method.Other)
        {
            // RFC 9110 §15.6.2: a method the server does not know at all is 501; a known one a path does not take is 405.
            response.Send(501, "text/plain", "501 Not Implemented\n");
            return;
        }
        var path = request.PathBytes;
        if (path.SequenceEqual("*"u8))
        {
            // RFC 9110 §9.3.7: "OPTIONS *" asks about the server as a whole (the parser lets "*" through only for OPTIONS).
            response.AddHeader("Allow", "GET, HEAD, POST, OPTIONS");
        }
        else if (path.SequenceEqual("/"u8) || path.SequenceEqual("/hello"u8))
        {
            if (!Allow(request, response, "GET, HEAD")) return;
            response.ContentType = "text/plain";
            response.Write(Hello);
        }
        else if (path.SequenceEqual("/sleep"u8) || path.SequenceEqual("/block"u8))
        {
            if (!Allow(request, response, "GET, HEAD")) return;
            if (!int.TryParse(request.GetQueryParameter("ms") ?? "0", NumberStyles.None, CultureInfo.InvariantCulture, out int ms))
            {
                response.Send(400, "text/plain", "ms must be a whole number of milliseconds\n");
                return;
            }
            ms = Math.Min(ms, MaxSleepMs);
            // /sleep waits the async way; /block holds the thread, which in an async worker is its event loop:
            // the mistake --timeout exists to catch.
            if (path.SequenceEqual("/sleep"u8)) await Task.Delay(ms);
            else Thread.Sleep(ms);
            response.Send(200, "text/plain", $"slept {ms} ms in worker {settings.Number} (pid {Environment.ProcessId})\n");
        }
        else if (path.SequenceEqual("/echo"u8))
        {
            if (!Allow(request, response, "POST")) return;
            response.ContentType = request.GetHeader("Content-Type") ?? "application/octet-stream";
            response.Write(request.Body.Span);
        }
        else if (path.SequenceEqual("/worker"u8))
        {
            if (!Allow(request, response, "GET, HEAD")) return;
            // The server counts a request once the app has answered it; the count it reports includes this one.
            response.Send(200, "application/json",
                $"{{\"pid\":{Environment.ProcessId},\"number\":{settings.Number},\"class\":\"{settings.Class.ToString().ToLowerInvariant()}\"," +
                $"\"requests\":{requestsServed() + 1},\"started\":\"{_started:yyyy-MM-ddTHH:mm:ssZ}\"}}\n");
        }
        else
        {
            response.Send(404, "text/plain", "404 Not Found\n");
        }
    }

    /// <summary>True when the path takes this method; otherwise the response is a 405 naming those it does.</summary>
    private static bool Allow(HttpRequest request, HttpResponse response, string allowed)
    {
        bool ok = request.Method switch
        {
            Method.Get or Method.Head => allowed.Contains("GET"),
            Method.Post => allowed.Contains("POST"),
            _ => false,
        };
        if (!ok) response.SendMethodNotAllowed(allowed);
        return ok;
    }
}
