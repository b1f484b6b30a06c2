using System.Text;
using Prefork.Tests.Server;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// The differential test of issue 14: the same app (<see cref="DifferentialApp"/>) on Kestrel and on Prefork, each
/// raw request sent to both; status, headers, body and whether the connection lives on must match, save for
/// the differences <see cref="ResponseDifferences"/> lists with their reasons.
/// </summary>
[Collection(HostsInProcess.Name)]
public sealed class KestrelDifferentialTests(KestrelAndPrefork servers) : IClassFixture<KestrelAndPrefork>
{
    private const string ETag = "{site.css ETag}";

    public static TheoryData<string, string> Requests => new()
    {
        { "text", Get("/text") },
        { "JSON object", Get("/json") },
        { "JSON posted, bound, answered 201 with Location", Post("/items", "application/json", """{"name":"milk","count":1}""") },
        { "JSON posted in chunks", Chunked("/items", "application/json", """{"name":"milk",""", "\"count\":1}") },
        { "malformed JSON is 400", Post("/items", "application/json", """{"name":""") },
        { "JSON of the wrong shape is 400", Post("/items", "application/json", """{"name":"milk","count":"many"}""") },
        { "a body that is not JSON is 415", Post("/items", "text/plain", "milk") },
        { "route value and query bound", Get("/items/42?sort=name&page=3") },
        { "a query value that does not bind is 400", Get("/items/42?page=three") },
        { "a route constraint that fails is 404", Get("/items/milk") },
        { "query with plus and escapes", Get("/items/42?sort=a+b%26c") },
        { "percent-encoded path", Get("/te%78t") },
        { "percent-encoded route value", Get("/items/4%32") },
        { "an encoded slash is not a separator", Get("/items%2F42") },
        { "dot segments", Get("/items/./../text") },
        { "encoded dot segments", Get("/items/%2E%2E/text") },
        { "dot segments above the root", Get("/../../text") },
        { "a dot segment that ends the path", Get("/items/42/.") },
        { "absolute-form target", RequestHead("GET", "http://localhost/text", []) + "\r\n" },
        { "the request as the app sees it", Get("/request/a%20b/c?x=1&x=2&y=%C3%A9", "X-Repeated: one", "X-Repeated: two, three", "Cookie: a=1; b=2") },
        { "the request as the app sees it, HTTP/1.0", "GET /request/old HTTP/1.0\r\nHost: localhost\r\n\r\n" },
        { "the request as the app sees it, with a chunked body", Chunked("/request/posted", "text/plain", "some", "thing") },
        { "the request as the app sees it, with a sized body", Post("/request/posted", "text/plain", "something") },
        { "JSON POST with an empty body is 400", Post("/items", "application/json", "") },
        { "JSON POST with no body at all is 400", RequestHead("POST", "/items", ["Content-Type: application/json"]) + "\r\n" },
        { "unknown path is 404", Get("/nowhere") },
        { "NotFound result", Get("/not-found") },
        { "Problem result is problem+json", Get("/problem") },
        { "Redirect result", Get("/redirect") },
        { "LocalRedirect result, permanent", Get("/local-redirect") },
        { "NoContent result", Get("/no-content") },
        { "two cookies", Get("/cookies") },
        { "Cache-Control, ETag and Vary from the app", Get("/cache") },
        { "401 with WWW-Authenticate", Get("/unauthorized") },
        { "a header value from the query", Get("/header?value=plain%20text") },
        { "a header value with CR LF is refused, not sent", Get("/header?value=a%0D%0AX-Injected:%20yes") },
        { "a header value with a control character is refused", Get("/header?value=a%01b") },
        { "a non-ASCII header value is refused", Get("/header?value=caf%C3%A9") },
        { "Content-Length set by the app", Get("/length") },
        { "body streamed past the engine's buffer", Get("/stream") },
        { "unhandled exception is 500", Get("/fail") },
        { "exception after the response started", Get("/fail-late") },
        { "exception after the response streamed past the engine's buffer", Get("/fail-late?lines=1000") },
        { "exception handler answers with problem details", Get("/handled/fail") },
        { "POST to a GET route is 405 with Allow", Post("/text", "text/plain", "hi") },
        { "HEAD on a GET and HEAD route", Head("/both") },
        { "HEAD on a GET route is 405", Head("/text") },
        { "static file", Get("/site.css") },
        { "static file past the engine's buffer", Get("/large.bin") },
        { "static file, HEAD", Head("/site.css") },
        { "static file, HEAD past the engine's buffer", Head("/large.bin") },
        { "static file, If-None-Match that matches is 304", Get("/site.css", $"If-None-Match: {ETag}") },
        { "static file, If-None-Match that differs is 200", Get("/site.css", "If-None-Match: \"other\"") },
        { "static file, If-Modified-Since is 304", Get("/site.css", $"If-Modified-Since: {DifferentialApp.LastModified}") },
        { "static file, a range is 206", Get("/large.bin", "Range: bytes=100-199") },
        { "static file, a suffix range is 206", Get("/large.bin", "Range: bytes=-10") },
        { "static file, an unsatisfiable range is 416", Get("/large.bin", $"Range: bytes={DifferentialApp.LargeFileSize}-") },
        { "static file, POST passes through to routing", Post("/site.css", "text/plain", "hi") },
        { "HTTP/1.0 text", "GET /text HTTP/1.0\r\n\r\n" },
        { "HTTP/1.0 streamed body", "GET /stream HTTP/1.0\r\n\r\n" },
        { "HTTP/1.0 keep-alive", "GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" },
        { "Connection: close", Get("/text", "Connection: close") },
        { "a header set after the response started is refused", Get("/late-header") },
        { "a file range past the file's end is refused before anything is sent", Get("/sendfile-past-end") },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Kestrel_and_Prefork_answer_alike(string name, string request)
    {
        request = request.Replace(ETag, servers.SiteCssETag);
        var kestrel = await KestrelAndPrefork.AskAsync(servers.KestrelPort, request);
        var prefork = await KestrelAndPrefork.AskAsync(servers.PreforkPort, request);

        var differences = ResponseDifferences.Between(kestrel, prefork);
        if (differences.Count > 0)
        {
            Assert.Fail($"{name}: {string.Join("; ", differences)}\n--- request\n{request}\n--- Kestrel\n{Show(kestrel)}\n--- Prefork\n{Show(prefork)}");
        }
    }

    [Theory]
    [InlineData("writer")]
    [InlineData("stream")]
    [InlineData("events")]
    public async Task What_the_app_flushed_reaches_the_client_while_it_waits(string via)
    {
        foreach (var (server, port) in new[] { ("Kestrel", servers.KestrelPort), ("Prefork", servers.PreforkPort) })
        {
            // The app waits a minute after its first part, or until this client leaves.
            await using var connection = await RawHttpConnection.ConnectAsync(port);
            await connection.SendAsync($"GET /drip?via={via} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            var arrived = new StringBuilder();
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            while (!arrived.ToString().Contains("first", StringComparison.Ordinal) && !bound.IsCancellationRequested && arrived.Length < 1000)
            {
                try
                {
                    arrived.Append((char)(await connection.ReadBytesAsync(1, TimeSpan.FromSeconds(15)))[0]);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            Assert.True(arrived.ToString().Contains("first", StringComparison.Ordinal), $"{server}: the first part did not arrive while the app waited; got: {arrived}");
        }
    }

    [Fact]
    public async Task An_absolute_form_target_names_the_host_the_app_sees()
    {
        // RFC 9112 §3.2.2: the target's authority, not the Host field. (Kestrel refuses the mismatch with 400 unless
        // told to let the target win; nginx lets it win, as here.)
        var answer = await KestrelAndPrefork.AskAsync(servers.PreforkPort,
            "GET http://example.com:8080/request/a HTTP/1.1\r\nHost: other.example\r\n\r\n");
        Assert.Equal(200, answer.Response!.Status);
        Assert.Contains("\"host\":\"example.com:8080\"", answer.Response.BodyText);
    }

    private static string Get(string target, params string[] fields) => RequestHead("GET", target, fields) + "\r\n";

    private static string Head(string target) => RequestHead("HEAD", target, []) + "\r\n";

    private static string Post(string target, string contentType, string body) =>
        RequestHead("POST", target, [$"Content-Type: {contentType}", $"Content-Length: {Encoding.UTF8.GetByteCount(body)}"]) + "\r\n" + body;

    private static string Chunked(string target, string contentType, params string[] chunks) =>
        RequestHead("POST", target, [$"Content-Type: {contentType}", "Transfer-Encoding: chunked"]) + "\r\n"
        + string.Concat(chunks.Select(c => $"{Encoding.UTF8.GetByteCount(c):x}\r\n{c}\r\n")) + "0\r\n\r\n";

    private static string RequestHead(string method, string target, string[] fields) =>
        $"{method} {target} HTTP/1.1\r\nHost: localhost\r\n" + string.Concat(fields.Select(f => f + "\r\n"));

    private static string Show(Answer answer)
    {
        if (answer.Response is not { } response) return "(connection ended inside the response)";
        var text = new StringBuilder($"{response.Version} {response.Status} {response.Reason}\n");
        foreach (var (field, value) in response.Headers) text.Append($"{field}: {value}\n");
        text.Append('\n').Append(response.Body.Length <= 1000 ? response.BodyText : $"({response.Body.Length} bytes)");
        return text.Append(answer.KeptAlive ? "\n(connection kept alive)" : "\n(connection closed)").ToString();
    }
}
