using Microsoft.AspNetCore.Hosting.Server;
using Prefork.App;

namespace Prefork.AspNetCore;

/// <summary>
/// An ASP.NET Core request pipeline seen as a Prefork app: each request becomes a feature collection over
/// the engine's request and response, and goes through the host's CreateContext, ProcessRequestAsync and
/// DisposeContext, as Kestrel drives it.
/// </summary>
internal sealed class AspNetCoreApp<TContext>(IHttpApplication<TContext> application, long maxRequestBodySize) : IHttpApp
    where TContext : notnull
{
    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        var features = new RequestFeatures(request, response, maxRequestBodySize);
        var context = application.CreateContext(features);
        Exception? failure = null;
        try
        {
            await application.ProcessRequestAsync(context);
            await features.CompleteAsync();
        }
        catch (Exception e)
        {
            failure = e;
            // An app that stops because its client went away (or it aborted) has done nothing wrong.
            if (e is OperationCanceledException && request.Aborted.IsCancellationRequested) Log.Debug($"\"{request.MethodName} {request.Target}\" ended by its abort");
            else Log.Error($"Unhandled exception in \"{request.MethodName} {request.Target}\": {e}");
            // As Kestrel: a 500 with an empty body while nothing is sent; after that the connection is cut.
            if (!features.HasStarted) features.ReplaceWithServerError();
        }
        await features.RunOnCompletedAsync();
        application.DisposeContext(context, failure);
        if (failure != null && response.HasStarted) throw new IOException("the app failed after its response started", failure);
    }
}
