using Microsoft.Win32.SafeHandles;

namespace Prefork.App;

/// <summary>Where a streamed response body (or an upgraded connection's bytes) goes: the connection that owns the socket.</summary>
internal interface IResponseSink
{
    ValueTask WriteBodyAsync(ReadOnlyMemory<byte> bytes);
    ValueTask SendFileAsync(SafeFileHandle file, long offset, long count);
    ValueTask<Stream> UpgradeAsync();
}
