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
    private static TextWriter _writer = Console.Error;
    private static string? _path;

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
            _writer.Write(line);
            _writer.Flush();
        }
    }

    /// <summary>Sends the log to a file instead of stderr (--error-log); every process appends to it by itself.</summary>
    public static void ToFile(string path)
    {
        _path = path;
        Reopen();
    }

    /// <summary>Opens the file again under its name, after logrotate moved the old one away (SIGUSR1).</summary>
    public static void Reopen()
    {
        if (_path == null) return;
        var writer = OpenAppend(_path);
        lock (Gate)
        {
            var old = _writer;
            _writer = writer;
            if (old != Console.Error) old.Dispose();
        }
    }

    /// <summary>
    /// A writer whose every flush is one append-mode write(2), so lines from many processes sharing the file
    /// never interleave. The file is opened with O_APPEND (see <see cref="Native.OpenAppend"/>): FileMode.Append
    /// alone makes processes overwrite each other's lines.
    /// </summary>
    public static StreamWriter OpenAppend(string path) =>
        new(new FileStream(Native.OpenAppend(path), FileAccess.Write, bufferSize: 1),
            new System.Text.UTF8Encoding(false), bufferSize: 64 * 1024);

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
