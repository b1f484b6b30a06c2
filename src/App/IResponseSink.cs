namespace Prefork.App;

/// <summary>Where a streamed response body goes: the connection that owns the socket.</summary>
internal interface IResponseSink
{
    ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes);
    ValueTask SendFileAsync(FileStream file, long offset, long count);
}
