using System.Text;

namespace Prefork.Worker.Http;

/// <summary>
/// The response an application fills in. The body is buffered; the connection adds Content-Length, Date,
/// Server and Connection, and leaves the body out for HEAD.
/// </summary>
public sealed class HttpResponse
{
    private readonly List<KeyValuePair<string, string>> _headers = new();

    internal HttpResponse(OutputBuffer body) => Body = body;

    public int StatusCode { get; set; } = 200;
    public string? ContentType { get; set; }
    /// <summary>Set to close the connection after this response.</summary>
    public bool Close { get; set; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;
    internal OutputBuffer Body { get; }

    public void AddHeader(string name, string value) => _headers.Add(new(name, value));

    public void Write(ReadOnlySpan<byte> bytes) => Body.Write(bytes);

    public void Write(string text) => Body.WriteUtf8(text);

    /// <summary>Status, content type and body in one call, for the common case.</summary>
    public void Send(int status, string contentType, string body)
    {
        StatusCode = status;
        ContentType = contentType;
        Body.Clear();
        Write(body);
    }

    internal void Reset()
    {
        StatusCode = 200;
        ContentType = null;
        Close = false;
        _headers.Clear();
        Body.Clear();
    }
}
