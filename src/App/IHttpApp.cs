namespace Prefork.App;

/// <summary>
/// An application: it gets a request and fills in the response. The server owns the socket, the framing
/// and the connection's lifetime; the app only decides what to say.
/// </summary>
public interface IHttpApp
{
    ValueTask HandleAsync(HttpRequest request, HttpResponse response);

    /// <summary>
    /// False (the default): the connection reads a request's whole body before the app runs, into
    /// <see cref="HttpRequest.Body"/>. True: the app runs once the head is parsed and reads the body as it arrives,
    /// with <see cref="HttpRequest.ReadBodyAsync"/> (what an ASP.NET Core app gets, as under Kestrel).
    /// </summary>
    bool StreamsRequestBody => false;
}
