using Microsoft.Win32.SafeHandles;

namespace Prefork.Worker.Static;

/// <summary>A small file held in memory: the bytes of one version of it, and what its responses say about them.</summary>
public sealed record CachedFile(FileVersion Version, byte[] Bytes, Validators Validators, string ContentType);

/// <summary>
/// The bytes of a worker's small files, so that a hit answers in the response's own send, with no sendfile after it.
/// An entry is used only while the file's version (inode, size, mtime, ctime: the statx the lookup makes of the
/// descriptor it opened) is the one read, so a file rewritten, replaced or touched is read again. Bounded: files over
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

    /// <summary>
    /// The file <paramref name="name"/> in this version: from memory, read now from <paramref name="file"/>, or null to
    /// send it from disk.
    /// </summary>
    public CachedFile? Get(string name, FileVersion version, SafeFileHandle file)
    {
        lock (_lock)
        {
            if (_files.TryGetValue(name, out var held))
            {
                if (held.Version == version) return held;
                _files.Remove(name);
                _held -= held.Bytes.Length;
            }
        }
        if (version.Size > maxFileSize) return null;
        var read = Read(name, version, file);
        if (read == null) return null;
        long now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        if (now - Math.Max(version.ModifiedNs, version.ChangedNs) < _settleNs) return read;
        lock (_lock)
        {
            if (_held + read.Bytes.Length <= capacity && _files.TryAdd(name, read)) _held += read.Bytes.Length;
        }
        return read;
    }

    /// <summary>The file's bytes if they are still the version looked up (the same size, and statx agrees afterwards).</summary>
    private static CachedFile? Read(string name, FileVersion version, SafeFileHandle file)
    {
        var bytes = new byte[version.Size];
        try
        {
            if (RandomAccess.Read(file, bytes, 0) != bytes.Length) return null;
        }
        catch (IOException)
        {
            return null;
        }
        if (Native.Stat(file) != version) return null;
        return new CachedFile(version, bytes, new Validators(version.Size, version.Modified), MimeTypes.For(name));
    }
}
