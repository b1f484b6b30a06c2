using Prefork.App;
using Prefork.Http;

namespace Prefork.Tests.Parsing;

/// <summary>Ways to cut an input into the pieces a socket might deliver, and a connection-like feeding loop.</summary>
internal static class Feeding
{
    /// <summary>End offsets of each piece (the last is always input.Length).</summary>
    public static IEnumerable<(string Name, int[] Ends)> Chunkings(byte[] input, int seed, int randomSplits = 5)
    {
        yield return ("whole", [input.Length]);

        var lines = new List<int>();
        for (int i = 0; i < input.Length; i++) if (input[i] == (byte)'\n') lines.Add(i + 1);
        if (lines.Count == 0 || lines[^1] != input.Length) lines.Add(input.Length);
        yield return ("lines", lines.ToArray());

        yield return ("bytes", Enumerable.Range(1, Math.Max(input.Length, 1)).Select(n => Math.Min(n, input.Length)).Distinct().ToArray());

        for (int r = 0; r < randomSplits; r++)
        {
            var rng = new Random(seed * 31 + r);
            yield return ($"random#{r}", RandomEnds(rng, input.Length));
        }
    }

    public static int[] RandomEnds(Random rng, int length)
    {
        var ends = new List<int>();
        int at = 0;
        while (at < length)
        {
            // Mostly small pieces, sometimes a big one.
            at = Math.Min(length, at + (rng.Next(4) == 0 ? rng.Next(1, 64) : rng.Next(1, 6)));
            ends.Add(at);
        }
        if (ends.Count == 0) ends.Add(0);
        return ends.ToArray();
    }

    /// <summary>
    /// Feeds growing prefixes like the connection does and returns the first decided result (or the last
    /// Incomplete) together with the prefix length that decided it.
    /// </summary>
    public static (ParseResult Result, int DecidedAt) Feed(byte[] input, int[] ends, HttpLimits limits, RequestHead head)
    {
        ParseResult result = ParseResult.Incomplete;
        int at = 0;
        foreach (var end in ends)
        {
            at = end;
            result = RequestParser.TryParseHead(input.AsSpan(0, end), limits, head);
            if (result.Status != ParseStatus.Incomplete) return (result, end);
        }
        return (result, at);
    }
}
