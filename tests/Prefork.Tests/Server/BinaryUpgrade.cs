using System.Text.RegularExpressions;

namespace Prefork.Tests.Server;

/// <summary>A USR2 hand-over seen through the harness: the new master it started, and that master's workers.</summary>
public sealed record BinaryUpgrade(int OldMaster, int NewMaster, int Mark, MasterProcess Master)
{
    /// <summary>
    /// Sends USR2 and waits until the new master has its workers ready and has sent the old one TERM; from then on
    /// the harness follows the new master's workers too. The old master's exit is the caller's to wait for.
    /// </summary>
    public static async Task<BinaryUpgrade> StartAsync(MasterProcess master, TimeSpan bound)
    {
        int oldMaster = master.MasterPid, mark = master.LineCount;
        Assert.True(master.Signal(Native.SIGUSR2));
        var started = await master.WaitForLineAsync(new Regex(@"Started new master with pid (?<pid>\d+)"), bound, mark);
        int newMaster = int.Parse(started.Groups["pid"].Value);
        Assert.NotEqual(oldMaster, newMaster);
        master.Adopt(newMaster);
        await master.WaitForLineAsync(new Regex($@"\[{newMaster}\] \[INFO\] All workers ready; sending SIGTERM to the old master \(pid {oldMaster}\)"), bound, mark);
        return new BinaryUpgrade(oldMaster, newMaster, mark, master);
    }

    /// <summary>The workers the new master booted.</summary>
    public HashSet<int> NewWorkers => Master.Lines.Skip(Mark).Where(l => l.Contains($"[{NewMaster}] [INFO] Booting worker", StringComparison.Ordinal))
        .Select(l => int.Parse(MasterProcess.BootingRegex().Match(l).Groups["pid"].Value)).ToHashSet();

    /// <summary>Stops the new master with <paramref name="signal"/> and waits until it and its workers are gone.</summary>
    public async Task StopNewMasterAsync(int signal, TimeSpan bound)
    {
        var workers = NewWorkers;
        int mark = Master.LineCount;
        Assert.True(Native.SendSignal(NewMaster, signal));
        await Master.WaitForLineAsync(new Regex($@"\[{NewMaster}\] \[INFO\] Shutting down: master$"), bound, mark);
        Assert.Empty(await ProcFs.WaitAllGoneAsync([NewMaster, .. workers], bound));
    }
}
