using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Prefork.Worker.Static;

public enum LookupStatus { File, Directory, NotFound, Forbidden, BadRequest }

/// <summary>
/// Where a URL path leads in the root: a file or directory, opened (the caller disposes it), with its path below the
/// root as the URL names it and the version the descriptor reads; or why not.
/// </summary>
public readonly record struct Lookup(LookupStatus Status, SafeFileHandle? Handle = null, string Name = "", FileVersion Version = default) : IDisposable
{
    public void Dispose() => Handle?.Dispose();
}

/// <summary>
/// Maps URL paths to files under one directory and guarantees nothing outside it is reached: the path is
/// percent-decoded once, anything that could climb out or be read two ways ("..", encoded slashes,
/// backslashes, NUL) is refused, and the kernel resolves the rest below the root's descriptor (openat2 with
/// RESOLVE_BENEATH), checking and opening in one call. A symlink may point anywhere within the root but never out
/// of it: one the kernel's rule refuses (an absolute target) is resolved with realpath and must lie inside the root's.
/// </summary>
public sealed class StaticRoot
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly string _root;
    // Held for the worker's life: every lookup is resolved below it.
    private readonly SafeFileHandle _directory;

    public StaticRoot(string directory)
    {
        _root = Native.ResolvePath(directory) is { } real && Directory.Exists(real)
            ? real
            : throw new DirectoryNotFoundException($"--root: no such directory '{directory}'");
        _directory = Native.OpenDirectory(_root);
    }

    /// <param name="rawPath">The URL path below the prefix, still percent-encoded: "/css/site.css", "/" or empty.</param>
    public Lookup Find(ReadOnlySpan<byte> rawPath)
    {
        if (Decode(rawPath, out var path) is { } refused) return new(refused);

        var parts = new List<string>();
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "..") return new(LookupStatus.Forbidden);
            if (part != ".") parts.Add(part);
        }
        var found = Open(string.Join('/', parts));
        // "/a.txt/" names a directory: a file is not found there, as open(2) says (ENOTDIR) and nginx answers 404,
        // or every file would have two URLs, and rules on how a URL ends could be stepped around.
        if (found.Status != LookupStatus.File || !(path.EndsWith('/') || path.EndsWith("/."))) return found;
        found.Dispose();
        return new(LookupStatus.NotFound);
    }

    /// <summary>A directory's index.html, opened and checked like any other path.</summary>
    public Lookup FindIndex(string directory)
    {
        var index = Open(directory.Length == 0 ? "index.html" : directory + "/index.html");
        if (index.Status == LookupStatus.File) return index;
        index.Dispose();
        return new(LookupStatus.NotFound);
    }

    private Lookup Open(string name)
    {
        var outcome = Native.OpenBeneath(_directory, name.Length == 0 ? "." : name, out var handle);
        if (outcome == Native.Beneath.Undecided) outcome = OpenResolved(name, out handle);
        if (outcome == Native.Beneath.Denied) return new(LookupStatus.Forbidden);
        if (handle == null) return new(LookupStatus.NotFound);
        // Devices, sockets and pipes are not content.
        var found = Native.Stat(handle) switch
        {
            { Kind: FileKind.Directory } version => new Lookup(LookupStatus.Directory, handle, name, version),
            { Kind: FileKind.Regular } version => new Lookup(LookupStatus.File, handle, name, version),
            _ => new Lookup(LookupStatus.NotFound),
        };
        if (found.Handle == null) handle.Dispose();
        return found;
    }

    /// <summary>The slow way, for what openat2 left undecided: realpath, a check that the result is inside, an open.</summary>
    private Native.Beneath OpenResolved(string name, out SafeFileHandle? handle)
    {
        handle = null;
        if (Native.ResolvePath(Path.Join(_root, name)) is not { } real) return Native.Beneath.NotFound;
        if (real != _root && !real.StartsWith(_root + "/", StringComparison.Ordinal)) return Native.Beneath.Denied;
        try
        {
            handle = Native.OpenRead(real);
        }
        catch (UnauthorizedAccessException)
        {
            return Native.Beneath.Denied;
        }
        return handle == null ? Native.Beneath.NotFound : Native.Beneath.Opened;
    }

    /// <summary>Percent-decodes once (RFC 3986 §2.1); null when the path decoded cleanly, else why it is refused.</summary>
    private static LookupStatus? Decode(ReadOnlySpan<byte> raw, out string path)
    {
        path = "";
        var bytes = new byte[raw.Length];
        int n = 0;
        for (int i = 0; i < raw.Length; i++)
        {
            byte b = raw[i];
            if (b == '%')
            {
                if (i + 2 >= raw.Length || !IsHex(raw[i + 1]) || !IsHex(raw[i + 2])) return LookupStatus.BadRequest;
                b = (byte)(HexValue(raw[i + 1]) << 4 | HexValue(raw[i + 2]));
                i += 2;
                // An encoded slash would make one URL name two paths; NUL would cut the path short in libc.
                if (b is (byte)'/' or 0) return LookupStatus.Forbidden;
            }
            // A backslash is a separator on Windows and in some proxies: a way to smuggle "..\".
            if (b == '\\') return LookupStatus.Forbidden;
            bytes[n++] = b;
        }
        try
        {
            path = StrictUtf8.GetString(bytes, 0, n);
        }
        catch (DecoderFallbackException)
        {
            return LookupStatus.BadRequest;
        }
        return null;
    }

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
