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
    /// app's, in order ("--environment Production", "--urls ...").
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
            int span = MasterSpan(args, i);
            if (span == 0) app.Add(args[i]);
            else master.AddRange(args.Skip(i).Take(span));
            i += Math.Max(span, 1) - 1;
        }
        return (master.ToArray(), app.ToArray());
    }

    /// <summary>
    /// The master's flags an app sets in its code (UsePrefork's defaults) under those on its command line: a
    /// default stays only where the command line does not give that flag, so a --bind given replaces the
    /// default binds rather than adding to them.
    /// </summary>
    public static string[] UnderDefaults(IReadOnlyList<string> defaults, IReadOnlyList<string> given)
    {
        var named = given.Select(OptionOf).OfType<OptionAttribute>().ToHashSet();
        List<string> kept = [];
        for (int i = 0, span; i < defaults.Count; i += span)
        {
            span = Math.Max(MasterSpan(defaults, i), 1);
            if (OptionOf(defaults[i]) is not { } option || !named.Contains(option)) kept.AddRange(defaults.Skip(i).Take(span));
        }
        return [.. kept, .. given];
    }

    /// <summary>
    /// How many words the master's flag at <paramref name="i"/> takes (its value too, when that follows it), or
    /// 0 for a word that is not the master's. A master's flag that lacks its value is the master's alone, for
    /// <see cref="FirstProblem"/> to name.
    /// </summary>
    private static int MasterSpan(IReadOnlyList<string> args, int i)
    {
        var flag = IsFlag(args[i]) ? Find(Split(args[i]).Name) : default;
        if (flag.Option == null) return args[i] is "--help" or "--version" ? 1 : 0;
        bool valueFollows = flag.Type != typeof(bool) && Split(args[i]).Value == null && i + 1 < args.Count && !IsFlag(args[i + 1]);
        return valueFollows ? 2 : 1;
    }

    private static OptionAttribute? OptionOf(string arg) => IsFlag(arg) ? Find(Split(arg).Name).Option : null;

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
