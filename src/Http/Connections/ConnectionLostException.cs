namespace Prefork.Http;

/// <summary>
/// A read or write on a client's socket failed (ECONNRESET, EPIPE after a shutdown, ...): the client is gone.
/// Its own type, so the connection can tell it from an <see cref="IOException"/> an app throws.
/// </summary>
public sealed class ConnectionLostException(string call, int errno) : IOException($"{call} failed: errno {errno}")
{
    public int Errno { get; } = errno;
}
