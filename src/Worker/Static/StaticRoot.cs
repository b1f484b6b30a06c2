using System.Text;

namespace Prefork.Worker.Static;

public enum LookupStatus { File, Directory, NotFound, Forbidden, BadRequest }

/// <summary>Where a URL path leads in the root: a file or directory (with its real path and version), or why not.</summary>
public readonly record struct Lookup(LookupStatus Status, string? RealPath = null, FileVersion Version = default);

/// <summary>
/// Maps URL paths to files under one directory and guarantees nothing outside it is reached: the path is
/// percent-decoded once, anything that could climb out or be read two ways ("..", encoded slashes,
/// backslashes, NUL) is refused, and the kernel's own resolution of the result (realpath) must still lie
/// inside the root's, so a symlink may point anywhere within the root but never out of it.
/// </summary>
public sealed class StaticRoot
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly string _root;

    public StaticRoot(string directory)
    {
        _root = Native.ResolvePath(directory) is { } real && Directory.Exists(real)
            ? real
            : throw new DirectoryNotFoundException($"--root: no such directory '{directory}'");
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
        return Resolve(Path.Join(_root, string.Join('/', parts)));
    }

    /// <summary>A directory's index.html, resolved and checked like any other path.</summary>
    public Lookup FindIndex(string directory) => Resolve(Path.Join(directory, "index.html")) is { Status: LookupStatus.File } index
        ? index
        : new(LookupStatus.NotFound);

    private Lookup Resolve(string candidate)
    {
        if (Native.ResolvePath(candidate) is not { } real) return new(LookupStatus.NotFound);
        if (real != _root && !real.StartsWith(_root + "/", StringComparison.Ordinal)) return new(LookupStatus.Forbidden);
        // Devices, sockets and pipes are not content.
        return Native.Stat(real) switch
        {
            { Kind: FileKind.Directory } version => new(LookupStatus.Directory, real, version),
            { Kind: FileKind.Regular } version => new(LookupStatus.File, real, version),
            _ => new(LookupStatus.NotFound),
        };
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
