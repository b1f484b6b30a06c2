namespace Prefork.App;

/// <summary>
/// An application: it gets a request and fills in the response. The server owns the socket, the framing
/// and the connection's lifetime; the app only decides what to say.
/// </summary>
public interface IHttpApp
{
    ValueTask HandleAsync(HttpRequest request, HttpResponse response);
}
