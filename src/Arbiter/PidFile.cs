namespace Prefork.Master;

/// <summary>
/// --pid FILE. During a binary upgrade the old master moves its file to FILE.oldbin and the new master
/// writes FILE, as nginx does, so the file always names the master that serves.
/// </summary>
public sealed class PidFile(string path)
{
    private string OldBin => path + ".oldbin";

    public void Write()
    {
        try
        {
            File.WriteAllText(path, $"{Environment.ProcessId}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The operator's words, as for the log files: the flag, the path and why, not .NET's sentence about "a part of the path".
            var why = e switch
            {
                DirectoryNotFoundException or FileNotFoundException => "No such file or directory",
                UnauthorizedAccessException => "Permission denied",
                _ => e.Message,
            };
            throw new IOException($"--pid: cannot write {path}: {why}", e);
        }
    }

    /// <summary>The old master's side of an upgrade: step aside for the new master's file.</summary>
    public void MoveToOldBin()
    {
        if (IsOurs(path)) File.Move(path, OldBin, overwrite: true);
    }

    /// <summary>The upgrade failed: take the name back.</summary>
    public void RestoreFromOldBin()
    {
        if (IsOurs(OldBin)) File.Move(OldBin, path, overwrite: true);
    }

    /// <summary>On exit, remove whichever file still names this process, and only that.</summary>
    public void Remove()
    {
        foreach (var file in new[] { path, OldBin })
        {
            if (IsOurs(file)) File.Delete(file);
        }
    }

    private static bool IsOurs(string file) =>
        File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out int pid) && pid == Environment.ProcessId;
}
