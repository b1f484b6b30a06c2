using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Prefork.App;
using HttpRequest = Prefork.App.HttpRequest;
using HttpResponse = Prefork.App.HttpResponse;

namespace Prefork.AspNetCore;

/// <summary>
/// An ASP.NET Core request pipeline seen as a Prefork app: each request goes through the host's CreateContext,
/// ProcessRequestAsync and DisposeContext, as Kestrel drives it, on a feature collection over the engine's request
/// and response, reused with them for one request after another. The app reads request bodies as they
/// arrive, as under Kestrel.
/// </summary>
internal sealed class AspNetCoreApp<TContext>(IHttpApplication<TContext> application) : IHttpApp
    where TContext : notnull
{
    public bool StreamsRequestBody => true;

    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        if (request.AppState is not ReusedFeatures<TContext> features)
        {
            request.AppState = features = new ReusedFeatures<TContext>(request, response);
        }
        features.BeginRequest();
        var context = application.CreateContext(features);
        Exception? failure = null;
        bool failedAfterStart = false;
        try
        {
            var processing = application.ProcessRequestAsync(context);
            if (!processing.IsCompleted) await features.FirstRunEndedAsync();
            await processing;
            await features.CompleteAsync();
        }
        catch (Exception e)
        {
            failure = e;
            // An app that stops because its client went away (or it aborted) has done nothing wrong.
            // Nor has one stopped by a request body the engine refused: that is the client's doing.
            if (e is OperationCanceledException && request.Aborted.IsCancellationRequested) Log.Debug($"\"{request.MethodName} {request.Target}\" ended by its abort");
            else if (e is BadHttpRequestException bad) Log.Debug($"\"{request.MethodName} {request.Target}\": {bad.StatusCode} {bad.Message}");
            else Log.Error($"Unhandled exception in \"{request.MethodName} {request.Target}\": {e}");
            // As Kestrel: a 500 (a refused body's own status) with an empty body while nothing is sent; after that
            // the connection is cut.
            failedAfterStart = features.HasStarted;
            if (!failedAfterStart) features.ReplaceWithError((e as BadHttpRequestException)?.StatusCode ?? StatusCodes.Status500InternalServerError);
        }
        await features.RunOnCompletedAsync();
        application.DisposeContext(context, failure);
        // A response the app started and could not finish must not reach the client as whole. The engine cuts the
        // connection if the head is out; if it still holds all of it (a small body), it answers 500 and closes
        // instead, where Kestrel, which sends on each flush, can only cut.
        if (failedAfterStart) throw new IOException("the app failed after its response started", failure);
        // Given up on the client's abort: no answer either way (the engine sends none to a client that only closed its side).
        if (failure is OperationCanceledException && request.Aborted.IsCancellationRequested) throw new OperationCanceledException("the request was aborted", failure);
    }
}
