using Prefork.App;

namespace Prefork.Worker.Static;

/// <summary>
/// Serves the files under a directory at a URL prefix: GET and HEAD, index.html for directories, validators,
/// 304s and 412s, single byte ranges; the body of a small file from memory (<see cref="SmallFileCache"/>), of any
/// other straight from the page cache with sendfile.
/// </summary>
public sealed class StaticFiles(string directory, string prefix = "/", SmallFileCache? cache = null) : IHttpApp
{
    private readonly StaticRoot _root = new(directory);
    private readonly SmallFileCache _cache = cache ?? new();
    private readonly byte[] _prefix = System.Text.Encoding.ASCII.GetBytes(prefix == "/" ? "" : prefix);

    public async ValueTask HandleAsync(HttpRequest request, HttpResponse response)
    {
        if (!await TryServeAsync(request, response)) response.Send(404, "text/plain", "404 Not Found\n");
    }

    /// <summary>
    /// Answers a request for a path under the prefix that names something in the root (or tries to climb
    /// out of it). Returns false, without touching the response, when the root has nothing at that path:
    /// the caller decides who answers then.
    /// </summary>
    public async ValueTask<bool> TryServeAsync(HttpRequest request, HttpResponse response)
    {
        var path = request.PathBytes;
        // "/static" matches "/static" and "/static/...", never "/statics".
        if (!path.StartsWith(_prefix) || (path.Length > _prefix.Length && path[_prefix.Length] != '/')) return false;

        using var found = _root.Find(path[_prefix.Length..]);
        switch (found.Status)
        {
            case LookupStatus.NotFound:
                return false;
            case LookupStatus.BadRequest:
                response.Send(400, "text/plain", "400 Bad Request: the path is not valid percent-encoded UTF-8\n");
                return true;
            case LookupStatus.Forbidden:
                response.Send(403, "text/plain", "403 Forbidden\n");
                return true;
        }
        if (request.Method is not (Method.Get or Method.Head))
        {
            response.SendMethodNotAllowed("GET, HEAD");
            return true;
        }
        if (found.Status == LookupStatus.File) return await ServeAsync(request, response, found);

        // As nginx: a directory is addressed with its slash, so relative links in its index.html resolve.
        if (!path.EndsWith("/"u8))
        {
            response.Send(301, "text/plain", "301 Moved Permanently\n");
            response.AddHeader("Location", request.Path + "/" + (request.Query.Length > 0 ? "?" + request.Query : ""));
            return true;
        }
        using var index = _root.FindIndex(found.Name);
        return index.Status == LookupStatus.File && await ServeAsync(request, response, index);
    }

    /// <summary>A small file from memory, any other straight from the page cache to the socket with sendfile.</summary>
    private async ValueTask<bool> ServeAsync(HttpRequest request, HttpResponse response, Lookup file)
    {
        if (_cache.Get(file.Name, file.Version, file.Handle!) is { } cached)
        {
            if (Respond(request, response, cached.Validators, cached.ContentType, cached.Bytes.Length) is { } part)
                response.Write(cached.Bytes.AsSpan((int)part.Start, (int)part.Length));
            return true;
        }
        var validators = new Validators(file.Version.Size, file.Version.Modified);
        if (Respond(request, response, validators, MimeTypes.For(file.Name), file.Version.Size) is { } range)
            await response.SendFileAsync(file.Handle!, range.Start, range.Length);
        return true;
    }

    /// <summary>
    /// The status and headers for a file of this size and these validators: null when the response is complete
    /// (304, 416), else the bytes of the file its body is.
    /// </summary>
    private static ByteRange? Respond(HttpRequest request, HttpResponse response, Validators validators, string contentType, long size)
    {
        if (validators.PreconditionFailed(request.GetHeader("If-Match"), request.GetHeader("If-Unmodified-Since")))
        {
            response.Send(412, "text/plain", "412 Precondition Failed\n");
            return null;
        }
        response.AddHeader("ETag", validators.ETag);
        response.AddHeader("Last-Modified", validators.LastModifiedText);
        if (validators.NotModified(request.GetHeader("If-None-Match"), request.GetHeader("If-Modified-Since")))
        {
            // RFC 9110 §15.4.5: a 304 carries the validators and no body or content metadata.
            response.StatusCode = 304;
            return null;
        }

        response.ContentType = contentType;
        response.AddHeader("Accept-Ranges", "bytes");
        var range = validators.RangeStillValid(request.GetHeader("If-Range"))
            ? ByteRange.Parse(request.GetHeader("Range"), size)
            : ByteRange.Whole;
        switch (range.Kind)
        {
            case RangeKind.Unsatisfiable:
                response.Send(416, "text/plain", "416 Range Not Satisfiable\n");
                response.AddHeader("Content-Range", $"bytes */{size}");
                return null;
            case RangeKind.Partial:
                response.StatusCode = 206;
                response.AddHeader("Content-Range", $"bytes {range.Start}-{range.End}/{size}");
                response.ContentLength = range.Length;
                return range;
            default:
                response.ContentLength = size;
                return new ByteRange(RangeKind.Whole, 0, size);
        }
    }
}
