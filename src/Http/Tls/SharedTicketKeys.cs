using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Prefork.Http.Tls;

/// <summary>
/// Session-ticket keys shared by the workers of one master, as nginx's workers share theirs: a client resumes its
/// TLS session on whichever worker its next connection lands, where with a worker's own keys (OpenSSL makes random
/// ones per context) it resumes only on the worker that issued its ticket and otherwise pays a full handshake. The
/// master makes 80 random bytes once and hands them to its workers in an inheritable memfd: only the descriptor's
/// number travels in the settings, never the keys (not in argv, the environment or a log).
///
/// No public API of .NET reaches OpenSSL's context, so this relies on System.Net.Security's internals on Linux
/// (.NET 10): a server's SSL_CTX comes from a process-wide cache (Interop.OpenSsl.GetOrCreateSslContextHandle, keyed
/// by the certificates, protocols and ALPN), which every handshake with the same options takes it from. A worker asks
/// that cache for it at boot with its own options, so the context exists with the shared keys before the first
/// ticket, and keeps it rented, so the cache never evicts it. .NET also gives each context 32 random bytes of session
/// id context, and OpenSSL refuses to resume a session made under another, so that is set alike too.
/// The calls go to the libssl.so.3 .NET loaded, and only when .NET runs on OpenSSL 3. Where any of that is missing
/// (a later .NET, another OpenSSL), the worker says so at debug and keeps OpenSSL's own keys: nothing else changes.
/// </summary>
public static partial class SharedTicketKeys
{
    // SSL_CTRL_SET_TLSEXT_TICKET_KEYS takes 16 bytes of key name, 32 of HMAC key and 32 of AES key.
    private const int Length = 80;
    private const int SslCtrlSetTlsextTicketKeys = 59;
    private const string InternalOptions = "System.Net.Security.SslAuthenticationOptions, System.Net.Security";

    // Rented from .NET's cache and never given back, so the context the keys are on is the one every handshake uses.
    private static SafeHandle? _context;

    /// <summary>The master's side: fresh keys in an inheritable memfd, whose descriptor every worker it starts inherits.</summary>
    public static int CreateForWorkers()
    {
        int fd = Native.CreateSharedMemory("prefork-ticket-keys", Length);
        Span<byte> keys = stackalloc byte[Length];
        RandomNumberGenerator.Fill(keys);
        using (var file = new SafeFileHandle(fd, ownsHandle: false)) RandomAccess.Write(file, keys, 0);
        CryptographicOperations.ZeroMemory(keys);
        return fd;
    }

    /// <summary>
    /// A worker's side, before its first handshake: reads the keys its master made, closes the descriptor, and sets
    /// them on the OpenSSL context <paramref name="server"/>'s handshakes use, or says at debug why it cannot.
    /// </summary>
    public static void Use(TlsServer server, int fd)
    {
        Span<byte> keys = stackalloc byte[Length];
        try
        {
            using (var file = new SafeFileHandle(fd, ownsHandle: true))
                if (RandomAccess.Read(file, keys, 0) != Length) throw new IOException("the session-ticket keys' descriptor holds fewer than 80 bytes");
            Install(server.Options, keys);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keys);
        }
    }

    private static unsafe void Install(SslServerAuthenticationOptions options, ReadOnlySpan<byte> keys)
    {
        if (!OperatingSystem.IsLinux() || SafeEvpPKeyHandle.OpenSslVersion >> 28 != 3)
        {
            Unavailable("not running on OpenSSL 3");
            return;
        }
        SafeHandle context;
        try
        {
            var internalOptions = NewInternalOptions();
            UpdateOptions(internalOptions, options);
            context = (SafeHandle)GetOrCreateSslContextHandle(null, internalOptions, allowCached: true);
        }
        // Another library's private code, with no contract: whatever it throws, the worker serves on with its own keys.
        catch (Exception e)
        {
            Unavailable(e.Message);
            return;
        }
        Span<byte> sessionIdContext = stackalloc byte[SHA256.HashSizeInBytes];
        SessionIdContext(options, keys, sessionIdContext);
        nint ctx = context.DangerousGetHandle();
        fixed (byte* k = keys)
        fixed (byte* id = sessionIdContext)
        {
            if (SslCtxCtrl(ctx, SslCtrlSetTlsextTicketKeys, Length, k) != 1 || SslCtxSetSessionIdContext(ctx, id, (uint)sessionIdContext.Length) != 1)
            {
                Unavailable("OpenSSL refused them");
                return;
            }
        }
        _context = context;
        Log.Debug("TLS session tickets: keys shared with the master's other workers");
    }

    /// <summary>
    /// The same in every worker serving the same certificate and client authorities, and different once a reload
    /// changes either: OpenSSL then refuses to resume an older session, so a renewed certificate reaches every client
    /// at once, and a client certificate is checked afresh against new authorities.
    /// </summary>
    private static void SessionIdContext(SslServerAuthenticationOptions options, ReadOnlySpan<byte> keys, Span<byte> destination)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(keys);
        hash.AppendData(options.ServerCertificateContext!.TargetCertificate.RawData);
        foreach (var authority in options.CertificateChainPolicy?.CustomTrustStore ?? []) hash.AppendData(authority.RawData);
        hash.GetHashAndReset(destination);
    }

    private static void Unavailable(string why) =>
        Log.Debug($"TLS session tickets: this worker keeps its own keys, a client resumes only on the worker that issued its ticket ({why})");

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    [return: UnsafeAccessorType(InternalOptions)]
    private static extern object NewInternalOptions();

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "UpdateOptions")]
    private static extern void UpdateOptions([UnsafeAccessorType(InternalOptions)] object target, SslServerAuthenticationOptions options);

    [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "GetOrCreateSslContextHandle")]
    [return: UnsafeAccessorType("Microsoft.Win32.SafeHandles.SafeSslContextHandle, System.Net.Security")]
    private static extern object GetOrCreateSslContextHandle(
        [UnsafeAccessorType("Interop+OpenSsl, System.Net.Security")] object? type, [UnsafeAccessorType(InternalOptions)] object options, bool allowCached);

    [LibraryImport("libssl.so.3", EntryPoint = "SSL_CTX_ctrl")]
    private static unsafe partial nint SslCtxCtrl(nint ctx, int command, nint length, void* argument);

    [LibraryImport("libssl.so.3", EntryPoint = "SSL_CTX_set_session_id_context")]
    private static unsafe partial int SslCtxSetSessionIdContext(nint ctx, byte* id, uint length);
}
