using System.Text;
using Prefork.App;

namespace Prefork.Http;

/// <summary>How a response body is delimited (RFC 9112 §6.3).</summary>
internal enum BodyFraming { ContentLength, Chunked, UntilClose }

/// <summary>Serialises a response head and body into the connection's output buffer (RFC 9112 §4, §6).</summary>
internal static class ResponseWriter
{
    // "HTTP/1.1 200 OK\r\nServer: Prefork\r\n" for each status, encoded the first time it is sent.
    private static readonly byte[]?[] StatusLines = new byte[]?[600];

    /// <summary>
    /// A whole buffered response: head with Content-Length, then the body (not for HEAD). With no body to send, a
    /// length the app states is the one to give: a HEAD response's is the GET's (RFC 9110 §9.3.2), which an app
    /// may state without writing the body (ASP.NET Core's static files do).
    /// </summary>
    public static void Write(OutputBuffer output, HttpResponse response, bool headRequest, bool keepAlive, bool http10)
    {
        bool sendsBody = HasBody(response.StatusCode) && !headRequest;
        long length = !sendsBody && response.ContentLength is { } stated ? stated : response.Body.Length;
        WriteHead(output, response, BodyFraming.ContentLength, length, keepAlive, http10);
        if (sendsBody) output.Write(response.Body.Span);
    }

    public static void WriteHead(OutputBuffer output, HttpResponse response, BodyFraming framing, long length, bool keepAlive, bool http10)
    {
        int status = response.StatusCode;
        if (response.ReasonPhrase is { } reason) WriteStatusLine(output, status, reason);
        else output.Write(StatusLine(status));
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
        // RFC 9110 §8.6: no Content-Length in 1xx and 204; a HEAD response carries the GET length, and a 304
        // only the length the app states (its own empty body says nothing about the representation).
        if (status >= 200 && status != 204 && (status != 304 || response.ContentLength != null))
        {
            if (framing == BodyFraming.ContentLength)
            {
                output.Write("Content-Length: "u8);
                output.WriteNumber(length);
                output.Write("\r\n"u8);
            }
            else if (framing == BodyFraming.Chunked)
            {
                output.Write("Transfer-Encoding: chunked\r\n"u8);
            }
        }
        // RFC 9110 §7.8: a 101 names "upgrade" in Connection; the connection owns the field, so an app cannot get it wrong.
        if (status == 101) output.Write("Connection: Upgrade\r\n\r\n"u8);
        else if (!keepAlive) output.Write("Connection: close\r\n\r\n"u8);
        else if (http10) output.Write("Connection: keep-alive\r\n\r\n"u8);
        else output.Write("\r\n"u8);
    }

    /// <summary>RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have a body.</summary>
    public static bool HasBody(int status) => status >= 200 && status != 204 && status != 304;

    private static byte[] StatusLine(int status)
    {
        if ((uint)status < StatusLines.Length && StatusLines[status] is { } cached) return cached;
        var line = Encoding.Latin1.GetBytes($"HTTP/1.1 {status} {ReasonPhrase(status)}\r\nServer: Prefork\r\n");
        // Two threads may both encode a status the first time; either array will do.
        if ((uint)status < StatusLines.Length) StatusLines[status] = line;
        return line;
    }

    private static void WriteStatusLine(OutputBuffer output, int status, string reason)
    {
        output.Write("HTTP/1.1 "u8);
        output.WriteNumber(status);
        output.Write(" "u8);
        output.WriteLatin1(reason);
        output.Write("\r\nServer: Prefork\r\n"u8);
    }

    /// <summary>RFC 9110 §15 (and RFC 6585 for 428, 429, 431, 511): every status an app is likely to send has its own phrase.</summary>
    public static string ReasonPhrase(int status) => status switch
    {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        511 => "Network Authentication Required",
        _ => "Unknown",
    };
}
