using Microsoft.Win32.SafeHandles;

namespace Prefork.Http;

/// <summary>
/// A connection's bytes on the wire, as <see cref="HttpConnection"/> moves them: the plain socket
/// (<see cref="Loop.LoopSocket"/>) or TLS over it (<see cref="Tls.TlsTransport"/>). Deadlines, the abort and
/// the timeout shutdowns stay with the connection's socket, below both: a shut socket ends either one's wait.
/// </summary>
internal interface IConnectionTransport
{
    /// <summary>Bytes read into <paramref name="buffer"/>; 0 at end of stream.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer);

    /// <param name="moreFollows">
    /// The caller sends more at once (a file after its head): the kernel may hold back a last, part-filled segment
    /// to fill it with what follows (MSG_MORE). Only a hint; the next send without it pushes everything out.
    /// </param>
    ValueTask SendAsync(ReadOnlyMemory<byte> bytes, bool moreFollows = false);

    /// <summary>Sends <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> (at most 2 GiB a call).</summary>
    ValueTask SendFileAsync(SafeFileHandle file, long offset, int count);

    /// <summary>Ends our side of the stream: the client reads the end of it after what was sent.</summary>
    ValueTask ShutdownSendAsync();
}
