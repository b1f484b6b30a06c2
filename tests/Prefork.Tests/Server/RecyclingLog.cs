using System.Text.RegularExpressions;

namespace Prefork.Tests.Server;

/// <summary>
/// What the master's log says of --max-requests: which workers reached it, and that each was stopped only once
/// a replacement was ready (so capacity never dipped, however slow the replacement's boot).
/// </summary>
public static partial class RecyclingLog
{
    [GeneratedRegex(@"Worker (?<n>\d+) \(pid (?<pid>\d+)\) reached --max-requests; retiring")]
    public static partial Regex RetiringRegex();

    [GeneratedRegex(@"Stopping worker (?<n>\d+) \(pid (?<pid>\d+)\), replaced after its --max-requests")]
    public static partial Regex ReplacedRegex();

    /// <summary>The workers that announced their --max-requests, in the order they did.</summary>
    public static List<int> RetiredPids(MasterProcess master) =>
        master.Lines.Select(l => RetiringRegex().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups["pid"].Value)).ToList();

    /// <summary>Waits (bounded) until <paramref name="count"/> workers past their --max-requests were stopped, replaced.</summary>
    public static Task WaitForReplacedAsync(MasterProcess master, int count, TimeSpan bound) =>
        master.WaitForCountAsync(ReplacedRegex(), count, bound);

    /// <summary>Between worker <paramref name="pid"/>'s announcement and its stop, a worker of its number got ready: its replacement.</summary>
    public static void AssertStoppedOnlyOnceReplaced(IReadOnlyList<string> lines, int pid)
    {
        int retiring = Index(lines, RetiringRegex(), pid, out int number);
        int stopped = Index(lines, ReplacedRegex(), pid, out _);
        Assert.True(retiring >= 0 && stopped > retiring, $"worker {pid}: retiring at line {retiring}, stopped at line {stopped}");
        bool replaced = lines.Skip(retiring).Take(stopped - retiring)
            .Select(l => MasterProcess.ReadyRegex().Match(l))
            .Any(m => m.Success && int.Parse(m.Groups["n"].Value) == number && int.Parse(m.Groups["pid"].Value) != pid);
        Assert.True(replaced, $"worker {pid} was stopped before a replacement was ready:\n{string.Join("\n", lines)}");
    }

    private static int Index(IReadOnlyList<string> lines, Regex regex, int pid, out int number)
    {
        number = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            var m = regex.Match(lines[i]);
            if (!m.Success || int.Parse(m.Groups["pid"].Value) != pid) continue;
            number = int.Parse(m.Groups["n"].Value);
            return i;
        }
        return -1;
    }
}
