using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Prefork.Tests.Metrics;

/// <summary>One sample: a series name, its labels, its value.</summary>
public sealed record PromSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A small, strict reader of the Prometheus text format 0.0.4, written for the tests so they check the
/// format rather than trust our renderer: every family has HELP then TYPE before its samples, names and
/// label names are valid, label values use only the three escapes, values parse, and histograms have
/// non-decreasing cumulative buckets ending in +Inf equal to _count. Throws FormatException with the line.
/// </summary>
public sealed partial class PrometheusParser
{
    private readonly Dictionary<string, string> _types = new();
    private readonly Dictionary<string, string> _help = new();

    public List<PromSample> Samples { get; } = new();
    public IReadOnlyDictionary<string, string> Types => _types;

    public static PrometheusParser Parse(string text)
    {
        var p = new PrometheusParser();
        if (!text.EndsWith('\n')) throw new FormatException("the exposition must end with a line feed");
        var lines = text.Split('\n')[..^1];
        string? helpFor = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var m = HelpRegex().Match(line);
                if (!m.Success) throw new FormatException($"bad HELP line: {line}");
                var name = m.Groups["name"].Value;
                if (!p._help.TryAdd(name, m.Groups["text"].Value)) throw new FormatException($"second HELP for {name}");
                helpFor = name;
            }
            else if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var m = TypeRegex().Match(line);
                if (!m.Success) throw new FormatException($"bad TYPE line: {line}");
                var name = m.Groups["name"].Value;
                if (helpFor != name) throw new FormatException($"TYPE for {name} does not follow its HELP");
                if (p.Samples.Any(s => FamilyOf(s.Name, m.Groups["type"].Value) == name)) throw new FormatException($"TYPE for {name} after its samples");
                if (!p._types.TryAdd(name, m.Groups["type"].Value)) throw new FormatException($"second TYPE for {name}");
            }
            else if (line.StartsWith('#') || line.Length == 0)
            {
                throw new FormatException($"unexpected comment or blank line: '{line}'");
            }
            else
            {
                var sample = ParseSample(line);
                var family = p._types.Keys.FirstOrDefault(f => FamilyOf(sample.Name, p._types[f]) == f)
                    ?? throw new FormatException($"sample without a TYPE: {line}");
                if (family != helpFor) throw new FormatException($"sample of {family} not grouped with its family: {line}");
                p.Samples.Add(sample);
            }
        }
        p.CheckHistograms();
        return p;
    }

    public double Value(string name, params (string Name, string Value)[] labels) =>
        TryValue(name, labels) ?? throw new KeyNotFoundException($"no sample {name}{{{string.Join(",", labels.Select(l => $"{l.Name}={l.Value}"))}}}");

    public double? TryValue(string name, params (string Name, string Value)[] labels) =>
        Samples.FirstOrDefault(s => s.Name == name && s.Labels.Count == labels.Length
            && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value))?.Value;

    private static string FamilyOf(string sample, string type)
    {
        if (type == "histogram")
        {
            foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
                if (sample.EndsWith(suffix, StringComparison.Ordinal)) return sample[..^suffix.Length];
        }
        return sample;
    }

    private static PromSample ParseSample(string line)
    {
        int i = 0;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':')) i++;
        var name = line[..i];
        if (!NameRegex().IsMatch(name)) throw new FormatException($"bad metric name: {line}");
        var labels = new Dictionary<string, string>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int start = i;
                while (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_') i++;
                var label = line[start..i];
                if (!LabelRegex().IsMatch(label) || line[i] != '=' || line[i + 1] != '"') throw new FormatException($"bad label: {line}");
                i += 2;
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        value.Append(line[i + 1] switch
                        {
                            '\\' => '\\', '"' => '"', 'n' => '\n',
                            _ => throw new FormatException($"bad escape in a label value: {line}"),
                        });
                        i += 2;
                    }
                    else value.Append(line[i++]);
                }
                i++;
                if (!labels.TryAdd(label, value.ToString())) throw new FormatException($"repeated label: {line}");
                if (line[i] == ',') i++;
                else if (line[i] != '}') throw new FormatException($"expected , or }} in: {line}");
            }
            i++;
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"expected a space before the value: {line}");
        var valueText = line[(i + 1)..];
        double v = valueText switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
                : throw new FormatException($"bad value: {line}"),
        };
        return new PromSample(name, labels, v);
    }

    private void CheckHistograms()
    {
        foreach (var (family, type) in _types.Where(t => t.Value == "histogram"))
        {
            var buckets = Samples.Where(s => s.Name == family + "_bucket").ToList();
            if (buckets.Count == 0 || buckets[^1].Labels["le"] != "+Inf") throw new FormatException($"{family}: buckets must end with le=\"+Inf\"");
            double previousBound = double.NegativeInfinity, previousCount = 0;
            foreach (var b in buckets)
            {
                double bound = b.Labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(b.Labels["le"], CultureInfo.InvariantCulture);
                if (bound <= previousBound) throw new FormatException($"{family}: bucket bounds must increase");
                if (b.Value < previousCount) throw new FormatException($"{family}: bucket counts must not decrease");
                previousBound = bound;
                previousCount = b.Value;
            }
            var count = Samples.SingleOrDefault(s => s.Name == family + "_count") ?? throw new FormatException($"{family}: no _count");
            if (Samples.All(s => s.Name != family + "_sum")) throw new FormatException($"{family}: no _sum");
            if (count.Value != previousCount) throw new FormatException($"{family}: +Inf bucket {previousCount} != _count {count.Value}");
        }
    }

    [GeneratedRegex(@"^# HELP (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?<text>.*)$")]
    private static partial Regex HelpRegex();

    [GeneratedRegex(@"^# TYPE (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?<type>counter|gauge|histogram|summary|untyped)$")]
    private static partial Regex TypeRegex();

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex NameRegex();

    [GeneratedRegex(@"^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelRegex();
}
