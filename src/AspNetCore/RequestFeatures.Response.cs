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
/// What the app writes is sent at once, as under Kestrel, except while its first synchronous run lasts: there the
/// PipeWriter's flushes (ASP.NET Core makes one after every write) and the stream's writes wait for that run's end.
/// An app that finishes in it (most requests) gets one send with Content-Length, not a chunked response and a send
/// per write; one that goes on to wait (a timer, a query, the next event it streams) has what it wrote sent
/// before it waits. The stream's own flush always sends.
/// </summary>
internal partial class RequestFeatures : IHttpResponseFeature, IHttpResponseBodyFeature
{
    private readonly HttpResponse _response;
    private readonly HeaderDictionary _responseHeaders = new();
    private int _statusCode = 200;
    private Stack<(Func<object, Task> Callback, object State)>? _onStarting, _onCompleted;
    private ResponseBodyStream? _stream;
    private ResponseBodyWriter? _writer;
    // The app's flow and the end of its first run both hand the engine bytes and send them: one at a time.
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Set once the app's first run is over (or it disabled buffering): a flush sends. Until then one is owed.
    private bool _flushesSend, _flushOwed;
    private Func<ValueTask>? _sendOrOwe;

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

    public Stream Stream => _stream ??= new ResponseBodyStream(this);
    public PipeWriter Writer => _writer ??= new ResponseBodyWriter(this, _response);

    private void BeginResponse()
    {
        _statusCode = 200;
        ReasonPhrase = null;
        _responseHeaders.IsReadOnly = false;
        _responseHeaders.Clear();
        ResponseHeaders = _responseHeaders;
        _onStarting?.Clear();
        _onCompleted?.Clear();
        // A request that failed leaves what it wrote in the writer: none of it is the next response's.
        _writer?.Release();
        HasStarted = false;
        _flushesSend = _flushOwed = false;
    }

    public void OnStarting(Func<object, Task> callback, object state) => (_onStarting ??= new()).Push((callback, state));
    public void OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= new()).Push((callback, state));

    // Every flush sends from now on, even in the app's first run.
    public void DisableBuffering() => _flushesSend = true;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await StartCoreAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs the OnStarting callbacks (last registered first, as Kestrel does) and fixes status and headers.</summary>
    private async Task StartCoreAsync()
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
        // As Kestrel: a header set from now on would never be sent, so setting one throws.
        _responseHeaders.IsReadOnly = true;
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        long length = RandomAccess.GetLength(file);
        // As Kestrel, before the response starts: a range past the end would be a length stated and never delivered.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, length);
        ArgumentOutOfRangeException.ThrowIfLessThan(offset, 0);
        if (count is < 0 || count > length - offset) throw new ArgumentOutOfRangeException(nameof(count), count, $"the file has {length - offset} bytes from {offset}");
        await InOrderAsync(() => _response.SendFileAsync(file, offset, count ?? length - offset), cancellationToken);
    }

    /// <summary>The end of the app's response: starts it if the app wrote nothing, and hands over what the writer holds.</summary>
    public async Task CompleteAsync()
    {
        await InOrderAsync(() => default, default);
        _writer?.Release();
    }

    /// <summary>
    /// The stream's write: after what the PipeWriter holds, so bytes keep the order they were written in, and then
    /// flushed, as Kestrel's stream does (server-sent events write to it and never flush).
    /// </summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        InOrderAsync(async () =>
        {
            await _response.WriteAsync(bytes);
            await SendOrOweAsync();
        }, cancellationToken);

    /// <summary>The PipeWriter's flush, which ASP.NET Core makes after every write (its delegate made once, not per flush).</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken) => InOrderAsync(_sendOrOwe ??= SendOrOweAsync, cancellationToken);

    /// <summary>The stream's flush, which only an app that means it makes: sent now, first run or not.</summary>
    public ValueTask SendAsync(CancellationToken cancellationToken) => InOrderAsync(_response.FlushAsync, cancellationToken);

    /// <summary>Sends now, or owes the send to the end of the app's first run.</summary>
    private ValueTask SendOrOweAsync()
    {
        if (_flushesSend) return _response.FlushAsync();
        _flushOwed = true;
        return default;
    }

    /// <summary>
    /// The app's first run ended with the request still going: the flush it owes goes out now, before it waits, and
    /// every flush after this one sends. A send that fails here (the client left) fails the app's next write instead.
    /// </summary>
    public async Task FirstRunEndedAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _flushesSend = true;
            if (_flushOwed) await _response.FlushAsync();
            _flushOwed = false;
        }
        catch (IOException)
        {
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Starts the response, passes on what the PipeWriter holds, then <paramref name="then"/>, all under the gate.</summary>
    private async ValueTask InOrderAsync(Func<ValueTask> then, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await StartCoreAsync();
            if (_writer != null) await _writer.HandOverAsync();
            await then();
        }
        finally
        {
            _gate.Release();
        }
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
