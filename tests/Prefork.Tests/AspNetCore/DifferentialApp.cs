using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The app <see cref="KestrelDifferentialTests"/> runs on both servers: one piece of code, written as for Kestrel,
/// touching what apps lean on the server for (framing, HEAD, files, redirects, cookies, errors).
/// </summary>
internal static class DifferentialApp
{
    private sealed record Item(string Name, int Count);

    /// <summary>Static files' ETag and Last-Modified come from the file's time: a fixed one keeps requests repeatable.</summary>
    public static readonly DateTime FileTime = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    public const string LastModified = "Thu, 01 Jan 2026 00:00:00 GMT";
    public const int LargeFileSize = 200_000;

    /// <summary>A content root with wwwroot/site.css (small) and wwwroot/large.bin (past the engine's buffer).</summary>
    public static void WriteContentRoot(string contentRoot)
    {
        var webRoot = Directory.CreateDirectory(Path.Combine(contentRoot, "wwwroot")).FullName;
        var css = Path.Combine(webRoot, "site.css");
        File.WriteAllText(css, "body { color: #333; }\nh1 { font-size: 2em; }\n");
        var large = Path.Combine(webRoot, "large.bin");
        File.WriteAllBytes(large, Enumerable.Range(0, LargeFileSize).Select(i => (byte)(i * 7)).ToArray());
        File.SetLastWriteTimeUtc(css, FileTime);
        File.SetLastWriteTimeUtc(large, FileTime);
    }

    /// <summary>The app; its URL is a Kestrel one, which Prefork ignores for its own (as in a worker).</summary>
    public static WebApplication Build(string contentRoot)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            ContentRootPath = contentRoot,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddProblemDetails();
        var app = builder.Build();

        // The developer exception page is off in Production: an exception is the server's 500, except under
        // /handled, where the exception handler answers with problem details.
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/handled"), branch => branch.UseExceptionHandler());
        app.UseStaticFiles();

        app.MapGet("/text", () => "Hello from ASP.NET Core");
        app.MapGet("/json", () => new Item("milk", 2));
        app.MapPost("/items", (Item item) => Results.Created($"/items/{item.Name}", item with { Count = item.Count + 1 }));
        app.MapGet("/items/{id:int}", (int id, string? sort, int page = 1) => Results.Json(new { id, sort, page }));
        app.MapMethods("/both", ["GET", "HEAD"], () => "GET or HEAD");
        app.MapGet("/redirect", () => Results.Redirect("/text"));
        app.MapGet("/local-redirect", () => Results.LocalRedirect("~/text", permanent: true));
        app.MapGet("/not-found", () => Results.NotFound());
        app.MapGet("/problem", () => Results.Problem("out of milk", statusCode: StatusCodes.Status409Conflict));
        app.MapGet("/no-content", () => Results.NoContent());
        app.MapGet("/cookies", (HttpContext context) =>
        {
            context.Response.Cookies.Append("first", "1");
            context.Response.Cookies.Append("second", "2", new CookieOptions { HttpOnly = true, Path = "/items" });
            return "two cookies";
        });
        app.MapGet("/cache", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "public, max-age=60";
            context.Response.Headers.ETag = "\"v1\"";
            context.Response.Headers.Vary = "Accept-Language";
            return "cacheable";
        });
        app.MapGet("/header", (HttpContext context, string value) =>
        {
            context.Response.Headers["X-Echo"] = value;
            return "echoed";
        });
        app.MapGet("/unauthorized", (HttpContext context) =>
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"diff\"";
            return Results.Unauthorized();
        });
        app.MapGet("/length", async (HttpContext context) =>
        {
            context.Response.ContentLength = 5;
            await context.Response.WriteAsync("12345");
        });
        app.MapGet("/stream", async (HttpContext context) =>
        {
            var line = new string('x', 99) + "\n";
            for (int i = 0; i < 1000; i++) await context.Response.WriteAsync(line);
        });
        // A header set once the response has started: refused, not silently dropped.
        app.MapGet("/late-header", async (HttpContext context) =>
        {
            await context.Response.StartAsync();
            string outcome;
            try
            {
                context.Response.Headers["X-Late"] = "1";
                outcome = "accepted";
            }
            catch (InvalidOperationException)
            {
                outcome = "refused";
            }
            await context.Response.WriteAsync($"{outcome}, read-only: {context.Response.Headers.IsReadOnly}");
        });
        // A file range that runs past the file's end: refused before anything is sent.
        app.MapGet("/sendfile-past-end", (HttpContext context, IWebHostEnvironment env) =>
            context.Response.SendFileAsync(Path.Combine(env.WebRootPath, "site.css"), 40, 100));
        // A first part flushed, then a wait (for the client to leave, in the tests): the part must not wait with it.
        app.MapGet("/drip", async (HttpContext context, string via) =>
        {
            var aborted = context.RequestAborted;
            if (via == "events")
            {
                await TypedResults.ServerSentEvents(Events(aborted)).ExecuteAsync(context);
                return;
            }
            if (via == "stream")
            {
                await context.Response.Body.WriteAsync("first\n"u8.ToArray(), aborted);
                await context.Response.Body.FlushAsync(aborted);
            }
            else
            {
                await context.Response.WriteAsync("first\n", aborted);
            }
            await Task.Delay(TimeSpan.FromSeconds(60), aborted);
        });
        // The request as the app sees it, connection details aside (each server's own ports).
        app.MapMethods("/request/{**rest}", ["GET", "POST"], (HttpContext context) =>
        {
            var request = context.Request;
            return Results.Json(new
            {
                request.Method, request.Scheme, request.Protocol, Host = request.Host.Value, PathBase = request.PathBase.Value,
                Path = request.Path.Value, QueryString = request.QueryString.Value, request.Query, context.Features.Get<IHttpRequestFeature>()!.RawTarget,
                request.ContentLength, request.ContentType, context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody,
                Repeated = request.Headers["X-Repeated"].ToArray(), request.Cookies,
            });
        });
        app.MapGet("/fail", string () => throw new InvalidOperationException("boom"));
        app.MapGet("/fail-late", async (HttpContext context, int? lines) =>
        {
            var line = new string('x', 99) + "\n";
            for (int i = 0; i < (lines ?? 1); i++) await context.Response.WriteAsync(line);
            throw new InvalidOperationException("boom after the response started");
        });
        app.MapGet("/handled/fail", string () => throw new InvalidOperationException("boom"));
        return app;
    }

    private static async IAsyncEnumerable<string> Events([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken aborted)
    {
        yield return "first";
        await Task.Delay(TimeSpan.FromSeconds(60), aborted);
        yield return "second";
    }
}
