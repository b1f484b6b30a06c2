using Prefork.App;

namespace Prefork.Http;

/// <summary>
/// What a connection needs only while it has a request: the parsed head, the request and response the app sees,
/// and the buffers behind them. A connection takes one when its client's bytes come and gives it back when it goes
/// idle or closes, so an idle keep-alive connection holds none of it (nginx frees its request between requests
/// the same way), and a new connection reuses one instead of making it.
/// </summary>
internal sealed class Exchange
{
    // Enough for every connection that is mid-request at once on a busy worker; past it, spares go to the GC.
    private const int Kept = 1024;
    private static readonly Stack<Exchange> Spares = new();

    private Exchange()
    {
        Request = new HttpRequest(Head);
        Response = new HttpResponse(ResponseBody);
    }

    public RequestHead Head { get; } = new();
    public HttpRequest Request { get; }
    public HttpResponse Response { get; }
    // What goes to the client next: response heads and buffered bodies.
    public OutputBuffer Output { get; } = new();
    public OutputBuffer ResponseBody { get; } = new(256);
    // Made for the first body read whole (most requests never send one).
    public OutputBuffer? RequestBody { get; set; }

    /// <summary>An exchange for <paramref name="connection"/>, from the spares when there is one.</summary>
    public static Exchange Take(HttpConnection connection)
    {
        Exchange? exchange;
        // Uncontended: a worker's connections take and give back on its one loop thread, bar an app's own threads.
        lock (Spares) Spares.TryPop(out exchange);
        exchange ??= new Exchange();
        exchange.Request.Connection = connection;
        exchange.Response.Sink = connection;
        return exchange;
    }

    /// <summary>
    /// Gives the buffers back to the shared pool and the exchange to the spares. The last request's strings and
    /// body go with them: an app must not keep its request or response past the response (as in ASP.NET Core).
    /// </summary>
    public void Return()
    {
        Output.Release();
        RequestBody?.Release();
        ResponseBody.Release();
        Head.Release();
        Request.Reset();
        Response.Reset();
        Request.Connection = null;
        Response.Sink = null;
        lock (Spares)
        {
            if (Spares.Count < Kept) Spares.Push(this);
        }
    }
}
