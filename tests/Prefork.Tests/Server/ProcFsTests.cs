using System.Diagnostics;

namespace Prefork.Tests.Server;

/// <summary>The /proc helpers the process tests lean on must see a zombie when there is one.</summary>
public class ProcFsTests
{
    [Fact]
    public async Task Zombie_child_is_detected_and_counts_as_not_gone_for_its_parent()
    {
        // bash starts a short child, then becomes "sleep 3" by exec: nobody is left to reap the child.
        using var parent = Process.Start(new ProcessStartInfo("/bin/bash", ["-c", "sleep 0.1 & exec sleep 3"]) { UseShellExecute = false })!;
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            List<ProcFs.Stat> zombies;
            while ((zombies = ProcFs.ZombieChildren(parent.Id)).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
            var zombie = Assert.Single(zombies);
            Assert.Equal('Z', zombie.State);
            Assert.False(ProcFs.IsGone(zombie.Pid, formerParent: parent.Id));
            Assert.True(ProcFs.IsGone(zombie.Pid));
            Assert.True(ProcFs.IsAlive(parent.Id));
        }
        finally
        {
            Native.SendSignal(parent.Id, Native.SIGKILL);
            await parent.WaitForExitAsync();
        }
        Assert.True(ProcFs.IsGone(parent.Id));
    }
}
