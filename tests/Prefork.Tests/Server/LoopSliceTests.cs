using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>A worker's event loop asks the kernel to run it as soon as it wakes (src/Http/Loop/ShortSlice.cs).</summary>
public class LoopSliceTests(ITestOutputHelper output)
{
    /// <summary>Skipped, saying why, on a kernel without per-task slices (before Linux 6.12).</summary>
    public sealed class CustomSliceFactAttribute : FactAttribute
    {
        public CustomSliceFactAttribute()
        {
            if (Environment.OSVersion.Version < new Version(6, 12)) Skip = $"needs Linux 6.12 or later (this is {Environment.OSVersion.Version})";
        }
    }

    [CustomSliceFact]
    public async Task Each_worker_loop_runs_with_the_shortest_slice_and_its_other_threads_with_the_default()
    {
        await using var master = await MasterProcess.StartReadyAsync(2, output: output);
        foreach (int pid in master.WorkerPids)
        {
            var slices = Directory.EnumerateDirectories($"/proc/{pid}/task")
                .Select(task => (Tid: int.Parse(Path.GetFileName(task)), Name: File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'), Slice: Slice(task)))
                .ToList();
            output.WriteLine($"worker {pid}: {string.Join(", ", slices.Select(s => $"{s.Name}={s.Slice}"))}");
            Assert.Equal(100_000, Assert.Single(slices, s => s.Name == "event loop").Slice);
            // The request is the loop's alone: the process's main thread keeps the kernel's own slice.
            Assert.NotEqual(100_000, Assert.Single(slices, s => s.Tid == pid).Slice);
        }
    }

    private static long Slice(string task) =>
        long.Parse(File.ReadLines(Path.Combine(task, "sched")).First(l => l.StartsWith("se.slice", StringComparison.Ordinal)).Split(':')[1].Trim());
}
