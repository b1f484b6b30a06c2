using System.Text;
using Microsoft.Win32.SafeHandles;
using Prefork.App;
using Prefork.Http;

namespace Prefork.Tests.Content;

/// <summary>
/// Runs an app on a raw request without a socket: the request is parsed as the connection parses it, and
/// whatever the app buffers, streams or sends from a file is collected as the body the client would get.
/// </summary>
public static class DirectCall
{
    public static async Task<RawResponse> RunAsync(IHttpApp app, string method, string target, params string[] headers)
    {
        var raw = Encoding.Latin1.GetBytes($"{method} {target} HTTP/1.1\r\nHost: test\r\n{string.Concat(headers.Select(h => h + "\r\n"))}\r\n");
        var head = new RequestHead();
        var parsed = RequestParser.TryParseHead(raw, new HttpLimits(), head);
        Assert.Equal(ParseStatus.Complete, parsed.Status);
        head.CopyFrom(raw.AsSpan(0, parsed.Consumed));

        var sink = new CollectingSink();
        using var buffer = new OutputBuffer();
        var response = new HttpResponse(buffer, sink);
        await app.HandleAsync(new HttpRequest(head), response);

        var headerTable = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in response.Headers) headerTable.TryAdd(name, value);
        if (response.ContentType != null) headerTable["Content-Type"] = response.ContentType;
        if (response.ContentLength is { } length) headerTable["Content-Length"] = length.ToString();
        return new RawResponse(response.StatusCode, headerTable, [.. buffer.Span, .. sink.Body.ToArray()]);
    }

    private sealed class CollectingSink : IResponseSink
    {
        public MemoryStream Body { get; } = new();

        public ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes)
        {
            Body.Write(bytes.Span);
            return default;
        }

        public ValueTask SendFileAsync(SafeFileHandle file, long offset, long count)
        {
            var part = new byte[count];
            int read = RandomAccess.Read(file, part, offset);
            Body.Write(part, 0, read);
            return default;
        }

        public ValueTask<Stream> UpgradeAsync() => throw new NotSupportedException("a direct call has no connection to hand over");
    }
}
