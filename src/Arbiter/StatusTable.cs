using System.Globalization;
using System.Text;

namespace Prefork.Master;

/// <summary>
/// The one-line-per-worker status: what SIGWINCH writes to the master's log and `--status` prints, so both
/// read alike. Columns are fixed-width; "last beat" is seconds since the worker's last message.
/// </summary>
public static class StatusTable
{
    public const string Header = "     pid  worker  gen       age  requests  conns  last beat";

    public static IReadOnlyList<string> Lines(IEnumerable<WorkerStatus> workers)
    {
        var lines = new List<string> { Header };
        foreach (var w in workers)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{w.Pid,8}  {w.Number,6}  {w.Generation,3}  {Age(w.Age),8}  {w.Requests,8}  {w.Connections,5}  {w.SinceHeartbeat.TotalSeconds,7:0.0}s ago"));
        }
        return lines;
    }

    public static string Render(IEnumerable<WorkerStatus> workers)
    {
        var s = new StringBuilder();
        foreach (var line in Lines(workers)) s.Append(line).Append('\n');
        return s.ToString();
    }

    /// <summary>"42s", "12m05s", "3h02m": short enough for the column, exact enough to tell workers apart.</summary>
    private static string Age(TimeSpan age) =>
        age.TotalHours >= 1 ? $"{(int)age.TotalHours}h{age.Minutes:00}m"
        : age.TotalMinutes >= 1 ? $"{(int)age.TotalMinutes}m{age.Seconds:00}s"
        : $"{(int)age.TotalSeconds}s";
}
