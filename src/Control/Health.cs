using Prefork.App;

namespace Prefork.Control;

/// <summary>
/// What a health check hears, from a worker on the public port (--health-path) or from the master on
/// --metrics-bind (/healthz): one answer, so a load balancer and an orchestrator read both the same way.
/// </summary>
public static class Health
{
    /// <summary>
    /// 200 while the server takes new work, 503 once it is stopping (its --shutdown-delay included), so a
    /// balancer takes it out of rotation before anything closes. GET and HEAD only; never cached.
    /// </summary>
    public static void Answer(HttpRequest request, HttpResponse response, bool serving)
    {
        if (request.Method is not (Method.Get or Method.Head))
        {
            response.SendMethodNotAllowed("GET, HEAD");
            return;
        }
        response.Send(serving ? 200 : 503, "text/plain", serving ? "ok\n" : "stopping\n");
        response.AddHeader("Cache-Control", "no-store");
    }
}
