using System.Text;
using Prefork.App;
using Prefork.Control;

namespace Prefork.Serving;

/// <summary>
/// --health-path, answered by the worker itself before the app (any app: the demo, --app, an ASP.NET Core
/// app), so a balancer learns the server's state even from an app that knows nothing of it. It tells the
/// server's state, not this worker's: a worker retiring alone (HUP, TTOU, --max-requests) still says 200, as
/// its siblings or the new generation take new work; only a stop of the whole server says 503.
/// </summary>
public sealed class HealthCheck(string path, IHttpApp app) : IHttpApp
{
    private readonly byte[] _path = Encoding.ASCII.GetBytes(path);
    private volatile bool _stopping;

    /// <summary>The server is stopping (SIGTERM's --shutdown-delay, or the stop itself): 503 from now on.</summary>
    public void ServerStopping() => _stopping = true;

    public ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        if (!request.PathBytes.SequenceEqual(_path)) return app.HandleAsync(request, response);
        Health.Answer(request, response, serving: !_stopping);
        return ValueTask.CompletedTask;
    }
}
