namespace Prefork;

public enum FileKind { Regular, Directory, Other }

/// <summary>
/// One version of one file, as statx(2) reports it: two equal values name the same bytes unless the file was
/// written twice within one tick of the kernel's file clock (see <see cref="ChangedNs"/>).
/// </summary>
/// <param name="Device">The filesystem's device (major, minor); with <paramref name="Inode"/>, which file it is.</param>
/// <param name="ModifiedNs">Last write, nanoseconds since the epoch.</param>
/// <param name="ChangedNs">
/// Last change of content or metadata (a write, a rename onto the path, a chmod, setting the mtime back), nanoseconds
/// since the epoch. The kernel stamps it with a coarse clock, a few milliseconds per tick.
/// </param>
public readonly record struct FileVersion(FileKind Kind, ulong Device, ulong Inode, long Size, long ModifiedNs, long ChangedNs)
{
    public DateTime Modified => DateTime.UnixEpoch.AddTicks(ModifiedNs / 100);
}
