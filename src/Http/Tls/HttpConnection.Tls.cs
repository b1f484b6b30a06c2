using System.Net.Sockets;
using System.Security.Authentication;
using Prefork.Http.Tls;

namespace Prefork.Http;

/// <summary>
/// A connection accepted on a TLS listener: its first bytes decide. A ClientHello is handed to the TLS engine
/// and, once the handshake is done, every byte of the connection goes through it; plain HTTP gets a 400 that
/// says so (as nginx answers); anything else is closed. Until its first byte the connection is idle, as a plain
/// one is before its request; from then on the handshake runs on the event loop under the request timeout, as a
/// request head would: a client that stalls or sends garbage is cut by the sweep, and never holds a sync worker's
/// slot while it waits.
/// </summary>
public sealed partial class HttpConnection
{
    // A TLS record of the handshake type opens every ClientHello (RFC 8446 §5.1).
    private const byte HandshakeRecord = 22;
    private readonly TlsServer? _tlsServer;
    private TlsTransport? _tls;

    /// <summary>True when the connection's requests came over TLS.</summary>
    public bool IsHttps => _tls != null;

    /// <summary>False when the connection is to close without serving: no handshake, or a failed one (counted, logged at debug).</summary>
    private async Task<bool> StartTlsAsync()
    {
        _host.WaitingForClient(this, sentNothing: _start == _end);
        // A PROXY header may have been read with the ClientHello's first bytes behind it. Until its first byte the
        // connection is idle, as a plain one is before its request: a full worker may close it to make room.
        if (_start == _end && !await ReceiveAsync(Phase.Idle))
        {
            // A client that connects and closes without a byte is not a failed handshake; one that stalls is.
            if (_timedOut) HandshakeFailed("no ClientHello in time");
            return false;
        }
        if (_input[_start] != HandshakeRecord)
        {
            if (_input[_start] is >= (byte)'A' and <= (byte)'Z') await RejectAsync(RejectReason.PlainHttpOnTlsPort);
            else HandshakeFailed("not a TLS record");
            return false;
        }
        // The handshake has the request timeout from its first byte on, as a request head has.
        StartWaiting(Phase.ReadingHead);
        _tls = new TlsTransport(_io, Buffered.ToArray());
        _start = _end = 0;
        try
        {
            await _tls.HandshakeAsync(_tlsServer!);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            HandshakeFailed(_timedOut ? "not finished in time" : e.InnerException?.Message ?? e.Message);
            return false;
        }
        _transport = _tls;
        return true;
    }

    private void HandshakeFailed(string why)
    {
        _traffic?.ClientFailed(ClientError.TlsHandshake);
        Log.Debug($"TLS handshake with {RemoteAddress} failed: {why}");
    }
}
