namespace Prefork.Worker.Http;

/// <summary>Serialises a response head and body into the connection's output buffer (RFC 9112 §4, §6).</summary>
public static class ResponseWriter
{
    private static readonly byte[] ServerHeader = "Server: Prefork\r\n"u8.ToArray();

    public static void Write(OutputBuffer output, HttpResponse response, bool headRequest, bool keepAlive, bool http10)
    {
        int status = response.StatusCode;
        WriteStatusLine(output, status);
        output.Write(ServerHeader);
        output.Write(DateHeader.Current);
        if (response.ContentType is { } contentType)
        {
            output.Write("Content-Type: "u8);
            output.WriteLatin1(contentType);
            output.Write("\r\n"u8);
        }
        foreach (var (name, value) in response.Headers)
        {
            output.WriteLatin1(name);
            output.Write(": "u8);
            output.WriteLatin1(value);
            output.Write("\r\n"u8);
        }
        // RFC 9110 §8.6: no Content-Length in 1xx and 204; a 304 or a HEAD response carries the GET length.
        bool bodyAllowed = status >= 200 && status != 204 && status != 304;
        if (status >= 200 && status != 204)
        {
            output.Write("Content-Length: "u8);
            output.WriteNumber(response.Body.Length);
            output.Write("\r\n"u8);
        }
        if (!keepAlive) output.Write("Connection: close\r\n"u8);
        else if (http10) output.Write("Connection: keep-alive\r\n"u8);
        output.Write("\r\n"u8);
        if (bodyAllowed && !headRequest) output.Write(response.Body.Span);
    }

    public static void WriteStatusLine(OutputBuffer output, int status)
    {
        output.Write("HTTP/1.1 "u8);
        output.WriteNumber(status);
        output.Write(" "u8);
        output.WriteLatin1(ReasonPhrase(status));
        output.Write("\r\n"u8);
    }

    public static string ReasonPhrase(int status) => status switch
    {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    };
}
