namespace Prefork;

/// <summary>
/// gunicorn-style error log: "[time] [pid] [LEVEL] message" on stderr. Master and workers share stderr,
/// so each line is written with one call to keep lines from different processes whole.
/// </summary>
public static class Log
{
    public enum Level { Debug, Info, Warning, Error, Critical }

    private static readonly object Gate = new();
    private static readonly int Pid = Environment.ProcessId;

    public static Level MinimumLevel { get; set; } = Level.Info;

    public static void Debug(string message) => Write(Level.Debug, message);
    public static void Info(string message) => Write(Level.Info, message);
    public static void Warning(string message) => Write(Level.Warning, message);
    public static void Error(string message) => Write(Level.Error, message);
    public static void Critical(string message) => Write(Level.Critical, message);

    public static void Write(Level level, string message)
    {
        if (level < MinimumLevel) return;
        var line = $"[{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} +0000] [{Pid}] [{Name(level)}] {message}\n";
        lock (Gate)
        {
            Console.Error.Write(line);
            Console.Error.Flush();
        }
    }

    public static bool TryParseLevel(string text, out Level level)
    {
        foreach (var candidate in Enum.GetValues<Level>())
        {
            if (string.Equals(Name(candidate), text, StringComparison.OrdinalIgnoreCase) ||
                string.Equals(candidate.ToString(), text, StringComparison.OrdinalIgnoreCase))
            {
                level = candidate;
                return true;
            }
        }
        level = Level.Info;
        return false;
    }

    private static string Name(Level level) => level switch
    {
        Level.Debug => "DEBUG",
        Level.Info => "INFO",
        Level.Warning => "WARNING",
        Level.Error => "ERROR",
        _ => "CRITICAL",
    };
}
