using Prefork.App;
using Prefork.Worker.Static;

namespace Prefork.Worker.Apps;

/// <summary>
/// --root in front of the app: a path under the static prefix that names a file or directory in the root is
/// answered from the root (including 403 for a path that tries to leave it, and 405 for a method other than
/// GET or HEAD); every other request goes to the app, as with nginx's try_files $uri @app.
/// </summary>
public sealed class StaticThenApp(StaticFiles files, IHttpApp app) : IHttpApp
{
    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        if (!await files.TryServeAsync(request, response)) await app.HandleAsync(request, response);
    }
}
