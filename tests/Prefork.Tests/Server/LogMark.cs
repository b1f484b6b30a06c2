namespace Prefork.Tests.Server;

/// <summary>A barrier in a master's log: what the master and its workers wrote before it has been read.</summary>
public static class LogMark
{
    /// <summary>
    /// Returns once every line the master and its workers wrote to their shared stderr before this call is in
    /// <see cref="MasterProcess.Lines"/>: writes a marker line into that same pipe (through /proc/PID/fd/2) and
    /// waits for it to come out the other end. A pipe keeps order, so whatever was written earlier is read first.
    /// </summary>
    public static async Task CatchUpLogAsync(this MasterProcess master, TimeSpan? timeout = null)
    {
        var mark = $"[test] log mark {Guid.NewGuid():N}";
        await using (var pipe = new FileStream($"/proc/{master.MasterPid}/fd/2", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0))
            await pipe.WriteAsync(System.Text.Encoding.ASCII.GetBytes(mark + "\n"));
        await master.WaitForLineAsync(line => line == mark, timeout ?? MasterProcess.DefaultTimeout);
    }
}
