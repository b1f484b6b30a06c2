namespace Prefork.Worker.Static;

/// <summary>A small file held in memory: the bytes of one version of it, and what its responses say about them.</summary>
public sealed record CachedFile(FileVersion Version, byte[] Bytes, Validators Validators, string ContentType);

/// <summary>
/// The bytes of a worker's small files, so that a hit answers from memory with no open, fstat, sendfile and close.
/// An entry is used only while the file's version (inode, size, mtime, ctime: one statx, which the lookup
/// makes anyway) is the one read, so a file rewritten, replaced or touched is read again. Bounded: files over
/// <paramref name="maxFileSize"/> stay on sendfile, and once <paramref name="capacity"/> bytes are held no more are added.
/// </summary>
/// <param name="settle">
/// How long a file must have been left alone to be kept. The kernel stamps mtime and ctime with a clock of a few
/// milliseconds a tick: a file changed again in the tick it was read in would keep its version. One changed more
/// recently than this is served from what was read but not kept (git calls such a file "racily clean").
/// </param>
public sealed class SmallFileCache(int maxFileSize = 32 * 1024, long capacity = 4 * 1024 * 1024, TimeSpan? settle = null)
{
    private readonly long _settleNs = (settle ?? TimeSpan.FromSeconds(1)).Ticks * 100;
    private readonly Dictionary<string, CachedFile> _files = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _held;

    /// <summary>Bytes held, for the tests.</summary>
    public long Held
    {
        get { lock (_lock) return _held; }
    }

    /// <summary>The file at <paramref name="path"/> in this version: from memory, read now, or null to send it from disk.</summary>
    public CachedFile? Get(string path, FileVersion version)
    {
        lock (_lock)
        {
            if (_files.TryGetValue(path, out var held))
            {
                if (held.Version == version) return held;
                _files.Remove(path);
                _held -= held.Bytes.Length;
            }
        }
        if (version.Size > maxFileSize) return null;
        var read = Read(path, version);
        if (read == null) return null;
        long now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        if (now - Math.Max(version.ModifiedNs, version.ChangedNs) < _settleNs) return read;
        lock (_lock)
        {
            if (_held + read.Bytes.Length <= capacity && _files.TryAdd(path, read)) _held += read.Bytes.Length;
        }
        return read;
    }

    /// <summary>The file's bytes if they are still the version looked up (the same size, and statx agrees afterwards).</summary>
    private static CachedFile? Read(string path, FileVersion version)
    {
        byte[] bytes;
        try
        {
            using var handle = File.OpenHandle(path);
            bytes = new byte[version.Size];
            if (RandomAccess.Read(handle, bytes, 0) != bytes.Length || RandomAccess.GetLength(handle) != bytes.Length) return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (Native.Stat(path) != version) return null;
        return new CachedFile(version, bytes, new Validators(version.Size, version.Modified), MimeTypes.For(path));
    }
}
