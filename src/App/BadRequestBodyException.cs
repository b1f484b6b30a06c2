namespace Prefork.App;

/// <summary>
/// A request body the server refused while the app read it (too large, malformed, not sent in time, cut short):
/// the client's fault, with the status code that says so. The connection answers with it or, once the response
/// has started, ends. An app sees an IOException; the ASP.NET Core host reads the status, to throw Kestrel's
/// exception (the app contract stays small).
/// </summary>
internal sealed class BadRequestBodyException(int statusCode, string message) : IOException(message)
{
    public int StatusCode { get; } = statusCode;
}
