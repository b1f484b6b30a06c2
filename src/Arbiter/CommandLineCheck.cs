using System.Globalization;
using System.Numerics;
using System.Reflection;
using CommandLine;

namespace Prefork.Master;

/// <summary>
/// The checks CommandLineParser 2.9 leaves out, run on the arguments before it sees them: it starts the
/// server with the default when a flag's value is missing ("--workers" last, or followed by another flag),
/// ignores a word no flag takes ("prefork foo", or a second value after "--bind ADDRESS"), and names no value
/// when a number does not parse. Every flag takes one value except the booleans, which take none; the flags
/// and their types are the [Option] attributes of <see cref="Options"/>, the same ones the parser reads.
/// </summary>
public static class CommandLineCheck
{
    private static readonly (OptionAttribute Option, Type Type)[] Flags = typeof(Options).GetProperties()
        .Select(p => (p.GetCustomAttribute<OptionAttribute>()!, p.PropertyType))
        .Where(f => f.Item1 != null)
        .ToArray();

    /// <summary>The first problem as one line, or null when every argument is a known flag with a value of its kind.</summary>
    public static string? FirstProblem(IReadOnlyList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            if (!IsFlag(args[i])) return $"unexpected argument '{args[i]}'";
            var (name, attached) = Split(args[i]);
            var flag = Find(name);
            if (flag.Option == null) return $"unknown option '{args[i]}'";
            string option = $"--{flag.Option.LongName}";
            if (flag.Type == typeof(bool))
            {
                if (attached != null) return $"option '{option}' takes no value (got '{attached}')";
                continue;
            }
            string? value = attached ?? (i + 1 < args.Count && !IsFlag(args[i + 1]) ? args[++i] : null);
            if (string.IsNullOrEmpty(value)) return $"option '{option}' needs a value";
            if (NumberProblem(Nullable.GetUnderlyingType(flag.Type) ?? flag.Type, value) is { } problem)
                return $"option '{option}' {problem} (got '{value}')";
        }
        return null;
    }

    /// <summary>
    /// An app that is its own master has one command line for two programs. The master's flags, each with its
    /// value, and --help and --version, are the master's; every other argument, and everything after "--", is the
    /// app's, in order ("--environment Production", "--urls ..."). A master's flag that lacks its value stays
    /// the master's, for <see cref="FirstProblem"/> to name.
    /// </summary>
    public static (string[] Master, string[] App) SplitOffAppArguments(IReadOnlyList<string> args)
    {
        List<string> master = [], app = [];
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--")
            {
                app.AddRange(args.Skip(i + 1));
                break;
            }
            var flag = IsFlag(args[i]) ? Find(Split(args[i]).Name) : default;
            if (flag.Option == null && args[i] is not ("--help" or "--version"))
            {
                app.Add(args[i]);
                continue;
            }
            master.Add(args[i]);
            if (flag.Option != null && flag.Type != typeof(bool) && Split(args[i]).Value == null && i + 1 < args.Count && !IsFlag(args[i + 1]))
                master.Add(args[++i]);
        }
        return (master.ToArray(), app.ToArray());
    }

    private static (OptionAttribute Option, Type Type) Find(string name) =>
        Flags.FirstOrDefault(f => name.Length == 1 ? f.Option.ShortName == name : f.Option.LongName == name);

    /// <summary>"-w", "--workers", "--workers=4", "-w4"; not "-" (a value: stdout) nor "-1" (a negative number).</summary>
    private static bool IsFlag(string arg) => arg.Length > 1 && arg[0] == '-' && !char.IsAsciiDigit(arg[1]);

    private static (string Name, string? Value) Split(string flag)
    {
        if (!flag.StartsWith("--", StringComparison.Ordinal)) return (flag[1..2], flag.Length > 2 ? flag[2..] : null);
        int equals = flag.IndexOf('=');
        return equals < 0 ? (flag[2..], null) : (flag[2..equals], flag[(equals + 1)..]);
    }

    // The parser converts with the invariant culture and NumberStyles.Integer (Convert.ChangeType); so does this.
    private static string? NumberProblem(Type type, string value)
    {
        if (type != typeof(int) && type != typeof(long)) return null;
        bool fits = type == typeof(int)
            ? int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
            : long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        if (fits) return null;
        return BigInteger.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? "has a value out of range" : "needs a whole number";
    }
}
