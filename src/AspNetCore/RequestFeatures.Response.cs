using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using HttpResponse = Prefork.App.HttpResponse;

namespace Prefork.AspNetCore;

/// <summary>
/// The response side. Status and headers stay here, changeable, until the response starts (the first body
/// write, a flush, or the end of the request); then they are copied to the engine's response once, and the
/// body goes to the engine, which buffers a small one (sent with Content-Length) and streams a large one.
/// </summary>
internal partial class RequestFeatures : IHttpResponseFeature, IHttpResponseBodyFeature
{
    private readonly HttpResponse _response;
    private readonly HeaderDictionary _responseHeaders = new();
    private int _statusCode = 200;
    private Stack<(Func<object, Task> Callback, object State)>? _onStarting, _onCompleted;
    private ResponseBodyStream? _stream;
    private ResponseBodyWriter? _writer;

    public bool HasStarted { get; private set; }

    public int StatusCode
    {
        get => _statusCode;
        set => _statusCode = HasStarted ? throw new InvalidOperationException("the response has already started") : value;
    }

    // Unset, the engine writes the usual phrase for the status.
    public string? ReasonPhrase { get; set; }
    IHeaderDictionary IHttpResponseFeature.Headers { get => ResponseHeaders; set => ResponseHeaders = value; }
    private IHeaderDictionary ResponseHeaders { get; set; }

    [Obsolete("Use IHttpResponseBodyFeature.Stream")]
    Stream IHttpResponseFeature.Body { get => Stream; set => throw new NotSupportedException(); }

    public Stream Stream => _stream ??= new ResponseBodyStream(this, _response);
    public PipeWriter Writer => _writer ??= new ResponseBodyWriter(this, _response);

    private void BeginResponse()
    {
        _statusCode = 200;
        ReasonPhrase = null;
        _responseHeaders.Clear();
        ResponseHeaders = _responseHeaders;
        _onStarting?.Clear();
        _onCompleted?.Clear();
        // A request that failed leaves what it wrote in the writer: none of it is the next response's.
        _writer?.Release();
        HasStarted = false;
    }

    public void OnStarting(Func<object, Task> callback, object state) => (_onStarting ??= new()).Push((callback, state));
    public void OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= new()).Push((callback, state));

    // Small bodies are buffered by the engine anyway; a flush is what sends them early.
    public void DisableBuffering() { }

    /// <summary>Runs the OnStarting callbacks (last registered first, as Kestrel does) and fixes status and headers.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (HasStarted) return;
        if (_onStarting != null)
        {
            while (_onStarting.TryPop(out var starting)) await starting.Callback(starting.State);
        }
        // Checked while the response can still become a 500: once started, the head is the engine's.
        foreach (var (name, values) in ResponseHeaders) ResponseFieldCheck.Check(name, values);
        HasStarted = true;
        CopyHead();
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        await HandOverWrittenAsync(cancellationToken);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        await _response.SendFileAsync(file, offset, count ?? RandomAccess.GetLength(file) - offset);
    }

    /// <summary>The end of the app's response: starts it if the app wrote nothing, and hands over what the writer holds.</summary>
    public async Task CompleteAsync()
    {
        await HandOverWrittenAsync(default);
        _writer?.Release();
    }

    /// <summary>Starts the response and passes on what the PipeWriter holds, so bytes keep the order they were written in.</summary>
    public async ValueTask HandOverWrittenAsync(CancellationToken cancellationToken)
    {
        await StartAsync(cancellationToken);
        if (_writer != null) await _writer.FlushAsync(cancellationToken);
    }

    /// <summary>An app that failed before its response started gets Kestrel's answer: 500 (or a refused body's status), no body.</summary>
    public void ReplaceWithError(int statusCode)
    {
        _onStarting?.Clear();
        ResponseHeaders.Clear();
        _statusCode = statusCode;
        ReasonPhrase = null;
        HasStarted = true;
        _response.StatusCode = _statusCode;
    }

    public async Task RunOnCompletedAsync()
    {
        if (_onCompleted == null) return;
        while (_onCompleted.TryPop(out var completed))
        {
            try
            {
                await completed.Callback(completed.State);
            }
            catch (Exception e)
            {
                Log.Error($"An OnCompleted callback failed: {e}");
            }
        }
    }

    /// <summary>The engine frames the body and writes Date, Server and Connection itself; the rest goes as the app set it.</summary>
    private void CopyHead()
    {
        _response.StatusCode = _statusCode;
        _response.ReasonPhrase = ReasonPhrase;
        foreach (var (name, values) in ResponseHeaders)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) _response.ContentType = values.ToString();
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) _response.ContentLength = ResponseHeaders.ContentLength;
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase)) _response.Close |= IsClose(values);
            else if (!IsEngineOwned(name)) AddAll(name, values);
        }
    }

    private void AddAll(string name, StringValues values)
    {
        foreach (var value in values) _response.AddHeader(name, value ?? "");
    }

    private static bool IsClose(StringValues values) => values.ToString().Contains("close", StringComparison.OrdinalIgnoreCase);

    private static bool IsEngineOwned(string name) =>
        name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Date", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Server", StringComparison.OrdinalIgnoreCase);
}
