namespace Prefork.Tests.Server;

/// <summary>What /proc says about processes: existence, state, parent. Linux only.</summary>
public static class ProcFs
{
    public readonly record struct Stat(int Pid, string Comm, char State, int PPid);

    /// <summary>Reads /proc/PID/stat; null when the process does not exist (any more).</summary>
    public static Stat? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
        int open = text.IndexOf('('), close = text.LastIndexOf(')');
        if (open < 0 || close < open) return null;
        var rest = text[(close + 2)..].Split(' ');
        return new Stat(pid, text[(open + 1)..close], rest[0][0], int.Parse(rest[1]));
    }

    /// <summary>
    /// True when the process has exited: its /proc entry is gone, or only a zombie is left whose parent is
    /// not <paramref name="formerParent"/> (an orphan handed to init, which is init's to reap, not ours).
    /// A zombie still owned by the given parent means that parent failed to reap it: not gone.
    /// </summary>
    public static bool IsGone(int pid, int formerParent = -1)
    {
        var stat = ReadStat(pid);
        if (stat == null) return true;
        return stat.Value.State is 'Z' or 'X' && stat.Value.PPid != formerParent;
    }

    public static bool IsAlive(int pid) => !IsGone(pid);

    /// <summary>Children of <paramref name="parentPid"/> in state Z: exited but never reaped.</summary>
    public static List<Stat> ZombieChildren(int parentPid)
    {
        var zombies = new List<Stat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            if (ReadStat(pid) is { } s && s.PPid == parentPid && s.State == 'Z') zombies.Add(s);
        }
        return zombies;
    }

    /// <summary>The process's resident set (VmRSS in /proc/PID/status), in kB.</summary>
    public static long RssKiB(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:"))["VmRSS:".Length..].Trim().Split(' ')[0]);

    /// <summary>The process's arguments, /proc/PID/cmdline split at its NULs.</summary>
    public static string[] CommandLine(int pid) => File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Split('\0');

    /// <summary>The file the process runs, /proc/PID/exe resolved.</summary>
    public static string? Executable(int pid) => new FileInfo($"/proc/{pid}/exe").LinkTarget;

    /// <summary>True when /proc/PID/cmdline mentions <paramref name="fragment"/>: guards kill-by-pid against a reused pid.</summary>
    public static bool CommandLineContains(int pid, string fragment)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(fragment, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The value of <paramref name="name"/> in the environment process <paramref name="pid"/> started with, or null.</summary>
    public static string? EnvironmentVariable(int pid, string name) =>
        File.ReadAllText($"/proc/{pid}/environ").Split('\0').FirstOrDefault(v => v.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..];

    /// <summary>True when the environment process <paramref name="pid"/> started with mentions <paramref name="fragment"/>.</summary>
    public static bool EnvironmentContains(int pid, string fragment)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Contains(fragment, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// True while process <paramref name="pid"/> holds a descriptor on the socket with this inode (see
    /// <see cref="TcpTable.Entry.Inode"/>): its /proc/PID/fd links read "socket:[INODE]". A reset connection
    /// leaves the kernel's TCP table at once, so only this says when the server has let go of it.
    /// </summary>
    public static bool HoldsSocket(int pid, long inode)
    {
        var target = $"socket:[{inode}]";
        string[] fds;
        try
        {
            fds = Directory.GetFiles($"/proc/{pid}/fd");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        return fds.Any(fd => LinkTarget(fd) == target);
    }

    /// <summary>Where a /proc link points; null when it has gone meanwhile (another descriptor closed as we read).</summary>
    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Polls (bounded) until every pid is gone; returns the ones still there at the deadline.</summary>
    public static async Task<List<int>> WaitAllGoneAsync(IEnumerable<int> pids, TimeSpan timeout, int formerParent = -1)
    {
        var left = pids.ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            left.RemoveAll(p => IsGone(p, formerParent));
            if (left.Count == 0 || DateTime.UtcNow >= deadline) return left;
            await Task.Delay(50);
        }
    }
}
