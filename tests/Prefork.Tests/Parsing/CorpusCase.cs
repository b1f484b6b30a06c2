using System.Globalization;
using System.Text;
using Prefork.App;
using Prefork.Http;

namespace Prefork.Tests.Parsing;

/// <summary>
/// One raw request from Parsing/Corpus. File format:
/// <code>
/// # expect: complete | incomplete | 400 | 400 InvalidHeader | 414 RequestLineTooLong
/// # limits: MaxRequestLine=64, MaxHeaderFields=3         (optional, HttpLimits property=value)
/// # method: GET  # path: /a  # query: b  # version: 1.1  # header: Host: a  # content-length: 5 ...
/// GET /a?b HTTP/1.1
/// Host: a
///
/// </code>
/// Directive lines ("# key: value") come first; every following line of the file is a line of the request and
/// ends in CRLF, whatever the file's own line ends are. Escapes give exact bytes: \r \n \t \0 \\ \xHH, and a
/// single backslash at the end of a line means "no CRLF here" (so "Host: a\n\" is a bare LF line end).
/// </summary>
internal sealed class CorpusCase
{
    public required string Name { get; init; }
    public required byte[] Input { get; init; }
    public required ParseStatus ExpectedStatus { get; init; }
    public int? ExpectedCode { get; init; }
    public RejectReason? ExpectedReason { get; init; }
    public HttpLimits Limits { get; init; } = new();
    /// <summary>Directives other than expect/limits: what the parsed head must hold after Complete.</summary>
    public required List<KeyValuePair<string, string>> Checks { get; init; }

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Parsing", "Corpus");

    public static IEnumerable<string> Files(string pattern = "*.http") =>
        System.IO.Directory.EnumerateFiles(Directory, pattern).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static CorpusCase Load(string fileName)
    {
        var text = File.ReadAllText(Path.Combine(Directory, fileName), Encoding.Latin1).Replace("\r\n", "\n");
        var lines = text.Split('\n').ToList();
        if (text.EndsWith('\n')) lines.RemoveAt(lines.Count - 1);

        var checks = new List<KeyValuePair<string, string>>();
        ParseStatus? status = null;
        int? code = null;
        RejectReason? reason = null;
        var limits = new HttpLimits();
        int i = 0;
        for (; i < lines.Count && lines[i].StartsWith("# ", StringComparison.Ordinal); i++)
        {
            var directive = lines[i][2..];
            int colon = directive.IndexOf(':');
            if (colon < 0) throw new FormatException($"{fileName}: directive without ':' in '{lines[i]}'");
            var key = directive[..colon].Trim().ToLowerInvariant();
            var value = directive[(colon + 1)..].Trim();
            switch (key)
            {
                case "expect":
                    var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts[0] == "complete") status = ParseStatus.Complete;
                    else if (parts[0] == "incomplete") status = ParseStatus.Incomplete;
                    else
                    {
                        status = ParseStatus.Rejected;
                        code = int.Parse(parts[0], CultureInfo.InvariantCulture);
                        if (parts.Length > 1) reason = Enum.Parse<RejectReason>(parts[1]);
                    }
                    break;
                case "limits":
                    limits = ParseLimits(value, fileName);
                    break;
                default:
                    checks.Add(new(key, Unescape(value)));
                    break;
            }
        }
        if (status is null) throw new FormatException($"{fileName}: no '# expect:' line");

        var bytes = new List<byte>();
        for (; i < lines.Count; i++)
        {
            var line = lines[i];
            bool joinNext = EndsWithLoneBackslash(line);
            if (joinNext) line = line[..^1];
            bytes.AddRange(Encoding.Latin1.GetBytes(Unescape(line)));
            if (!joinNext) bytes.AddRange("\r\n"u8.ToArray());
        }
        return new CorpusCase
        {
            Name = fileName, Input = bytes.ToArray(), ExpectedStatus = status.Value, ExpectedCode = code,
            ExpectedReason = reason, Limits = limits, Checks = checks,
        };
    }

    private static HttpLimits ParseLimits(string value, string fileName)
    {
        var limits = new HttpLimits();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = item.Split('=', StringSplitOptions.TrimEntries);
            int n = int.Parse(kv[1], CultureInfo.InvariantCulture);
            limits = kv[0] switch
            {
                "MaxRequestLine" => limits with { MaxRequestLine = n },
                "MaxHeaderFields" => limits with { MaxHeaderFields = n },
                "MaxHeaderFieldSize" => limits with { MaxHeaderFieldSize = n },
                "MaxHeadersTotalSize" => limits with { MaxHeadersTotalSize = n },
                _ => throw new FormatException($"{fileName}: unknown limit {kv[0]}"),
            };
        }
        return limits;
    }

    private static bool EndsWithLoneBackslash(string line)
    {
        int n = 0;
        for (int j = line.Length - 1; j >= 0 && line[j] == '\\'; j--) n++;
        return n % 2 == 1;
    }

    /// <summary>Turns \r \n \t \0 \\ \xHH into the characters they stand for (Latin-1, one char per byte).</summary>
    public static string Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int j = 0; j < s.Length; j++)
        {
            if (s[j] != '\\' || j + 1 == s.Length)
            {
                sb.Append(s[j]);
                continue;
            }
            char c = s[++j];
            switch (c)
            {
                case 'r': sb.Append('\r'); break;
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case 'x':
                    sb.Append((char)byte.Parse(s.AsSpan(j + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    j += 2;
                    break;
                default: throw new FormatException($"unknown escape \\{c} in '{s}'");
            }
        }
        return sb.ToString();
    }

    public override string ToString() => Name;
}
