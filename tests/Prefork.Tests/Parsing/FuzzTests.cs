using System.Diagnostics;
using System.Text;
using Prefork.App;
using Prefork.Http;
using Xunit.Abstractions;

namespace Prefork.Tests.Parsing;

/// <summary>
/// Seeded, bounded fuzzing of <see cref="RequestParser.TryParseHead"/> and <see cref="ChunkedDecoder"/> with random
/// bytes and mutations of the corpus. Whatever the input: a defined answer, never an exception, offsets inside the
/// input, a refused head never past the limits, and (for a sample) the same answer however the bytes are split.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20_250_901;
    private const int RandomHeads = 60_000;
    private const int MutatedHeads = 120_000;
    private const int ChunkedBodies = 40_000;

    private static readonly HttpLimits DefaultLimits = new();
    private static readonly HttpLimits SmallLimits = new()
    {
        MaxRequestLine = 40, MaxHeaderFields = 5, MaxHeaderFieldSize = 40, MaxHeadersTotalSize = 120,
    };

    private static readonly byte[] Interesting = "\r\n \t:,;/?#*0123456789\0\x7f\x80\xff\"=-"u8.ToArray();
    private static readonly byte[] HttpAlphabet = Encoding.Latin1.GetBytes(
        "GETPOSTHTP/1.0 1.1\r\n\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked, gzip\r\n:, \t;=\"\0\x7f\x80");

    [Fact]
    public void HeadParserSurvivesRandomAndMutatedInput()
    {
        var watch = Stopwatch.StartNew();
        var rng = new Random(Seed);
        var head = new RequestHead();
        var corpus = CorpusCase.Files().Select(CorpusCase.Load).ToList();
        var seeds = corpus.Select(c => c.Input).ToList();
        int ran = 0, differential = 0;
        var outcomes = new Dictionary<string, int>();

        for (int n = 0; n < RandomHeads + MutatedHeads; n++)
        {
            byte[] input = n < RandomHeads ? RandomInput(rng) : Mutate(rng, seeds);
            var limits = (n & 1) == 0 ? DefaultLimits : SmallLimits;
            var result = Check(input, limits, head);
            ran++;
            string key = result.Status == ParseStatus.Rejected ? result.Reason.StatusCode().ToString() : result.Status.ToString();
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;

            // A sample is also fed in pieces: the answer must not depend on the split.
            if (n % 6 == 0)
            {
                differential++;
                int[] ends = n % 24 == 0 && input.Length <= 400
                    ? Enumerable.Range(1, input.Length).ToArray()
                    : Feeding.RandomEnds(rng, input.Length);
                if (ends.Length == 0 || ends[^1] != input.Length) ends = [.. ends, input.Length];
                var (split, at) = Feeding.Feed(input, ends, limits, head);
                if (split != result)
                    Assert.Fail($"split gives {split} at {at}, whole gives {result} for {Show(input)} with {Describe(limits)}");
            }
        }

        output.WriteLine($"TryParseHead: {ran} inputs ran ({RandomHeads} random, {MutatedHeads} mutated), "
            + $"{differential} also fed in pieces, in {watch.ElapsedMilliseconds} ms");
        output.WriteLine("outcomes: " + string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(RandomHeads + MutatedHeads, ran);
        // The mutations must reach every kind of answer, or the fuzzing is not exploring much.
        Assert.True(outcomes.GetValueOrDefault("Complete") > 1000, "too few mutated inputs still parse");
        foreach (var code in new[] { "400", "414", "431", "501", "505" }) Assert.True(outcomes.ContainsKey(code), $"no {code} reached");
    }

    [Fact]
    public void ChunkedDecoderSurvivesRandomAndMutatedInput()
    {
        var watch = Stopwatch.StartNew();
        var rng = new Random(Seed + 1);
        int ran = 0, done = 0, rejected = 0, needMore = 0;
        for (int n = 0; n < ChunkedBodies; n++)
        {
            byte[] input = (n % 4) switch
            {
                0 => RandomBytes(rng, rng.Next(0, 80), n % 8 == 0 ? null : "0123456789abcdefABCDEF;= \t\r\n:xX\"\0"u8.ToArray()),
                _ => MutateBytes(rng, ValidChunked(rng), rng.Next(0, 4)),
            };
            // ChunkedDecoderTests.Run checks the bounds of every answer and that every call makes progress.
            var whole = ChunkedDecoderTests.Run(input, [input.Length]);
            var ends = Feeding.RandomEnds(rng, input.Length);
            if (ends[^1] != input.Length) ends = [.. ends, input.Length];
            var split = ChunkedDecoderTests.Run(input, ends);
            if (split.Status != whole.Status || split.Used != whole.Used || !split.Body.AsSpan().SequenceEqual(whole.Body))
                Assert.Fail($"split gives {split.Status}/{split.Used}, whole {whole.Status}/{whole.Used} for {Show(input)}");
            Assert.InRange(whole.Used, 0, input.Length);
            Assert.True(whole.Body.Length <= whole.Used);
            ran++;
            switch (whole.Status)
            {
                case ChunkStatus.Done: done++; break;
                case ChunkStatus.Rejected: rejected++; break;
                default: needMore++; break;
            }
        }
        output.WriteLine($"ChunkedDecoder: {ran} inputs ran, each whole and split ({done} done, {rejected} rejected, "
            + $"{needMore} need more) in {watch.ElapsedMilliseconds} ms");
        Assert.True(done > 1000 && rejected > 1000);
    }

    /// <summary>The connection sizes its buffer by MaxHeadSize: no head, complete or still arriving, may be longer.</summary>
    [Theory]
    [InlineData(64, 4, 64, 128, 1)]
    [InlineData(64, 4, 64, 128, 32)]
    [InlineData(8190, 100, 8190, 32 * 1024, 1)]
    [InlineData(8190, 100, 8190, 32 * 1024, 4095)]
    public void HeadNeverOutgrowsMaxHeadSize(int requestLine, int fields, int fieldSize, int total, int strayLines)
    {
        var limits = new HttpLimits
        {
            MaxRequestLine = requestLine, MaxHeaderFields = fields, MaxHeaderFieldSize = fieldSize, MaxHeadersTotalSize = total,
        };
        var head = new RequestHead();
        // Stray empty lines, then a request line as long as the limit allows without them, then header fields
        // as long as allowed, then more.
        var input = new List<byte>();
        for (int i = 0; i < strayLines; i++) input.AddRange("\r\n"u8.ToArray());
        input.AddRange(Encoding.ASCII.GetBytes("GET /" + new string('a', requestLine - 16) + " HTTP/1.1\r\nHost: a\r\n"));
        for (int i = 0; i < fields; i++) input.AddRange(Encoding.ASCII.GetBytes("X: " + new string('b', fieldSize - 3) + "\r\n"));
        var bytes = input.ToArray();
        Assert.True(bytes.Length > limits.MaxHeadSize + 2);

        // An answer, once given, holds for longer inputs: look at the lengths around MaxHeadSize.
        for (int len = limits.MaxHeadSize - 4; len <= limits.MaxHeadSize + 2; len++)
        {
            var r = RequestParser.TryParseHead(bytes.AsSpan(0, len), limits, head);
            if (r.Status == ParseStatus.Incomplete)
                Assert.True(len <= limits.MaxHeadSize, $"still Incomplete at {len} bytes, MaxHeadSize {limits.MaxHeadSize}");
            else
                Assert.True(r.Status == ParseStatus.Rejected && r.Reason.StatusCode() is 414 or 431, $"{r} at {len}");
            // One stray empty line and a request line two bytes under the limit: the head fills MaxHeadSize exactly.
            if (strayLines == 1 && len == limits.MaxHeadSize) Assert.Equal(ParseStatus.Incomplete, r.Status);
            if (strayLines == 1 && len == limits.MaxHeadSize + 1) Assert.Equal(RejectReason.HeadersTooLarge, r.Reason);
        }
    }

    private static ParseResult Check(byte[] input, HttpLimits limits, RequestHead head)
    {
        ParseResult r;
        try
        {
            r = RequestParser.TryParseHead(input, limits, head);
        }
        catch (Exception e)
        {
            Assert.Fail($"TryParseHead threw {e.GetType().Name}: {e.Message} for {Show(input)}");
            throw;
        }
        if (!Enum.IsDefined(r.Status) || !Enum.IsDefined(r.Reason)) Assert.Fail($"undefined answer {r} for {Show(input)}");
        switch (r.Status)
        {
            case ParseStatus.Incomplete:
                if (r.Consumed != 0 || r.Reason != RejectReason.None) Assert.Fail($"odd Incomplete {r} for {Show(input)}");
                if (input.Length > limits.MaxHeadSize)
                    Assert.Fail($"Incomplete at {input.Length} bytes > MaxHeadSize {limits.MaxHeadSize} for {Show(input)}");
                break;
            case ParseStatus.Rejected:
                int code = r.Reason.StatusCode();
                if (r.Reason == RejectReason.None || code < 400 || code > 599 || r.Consumed != 0)
                    Assert.Fail($"odd rejection {r} ({code}) for {Show(input)}");
                break;
            case ParseStatus.Complete:
                if (r.Reason != RejectReason.None || r.Consumed < 1 || r.Consumed > input.Length || r.Consumed > limits.MaxHeadSize)
                    Assert.Fail($"odd Complete {r} for {Show(input)}");
                CheckSegments(input, r, head);
                // A complete head is self-delimiting: its own bytes parse to the same answer.
                var again = RequestParser.TryParseHead(input.AsSpan(0, r.Consumed), limits, head);
                if (again != r) Assert.Fail($"head alone gives {again}, with what follows {r}, for {Show(input)}");
                break;
        }
        return r;
    }

    private static void CheckSegments(byte[] input, ParseResult r, RequestHead head)
    {
        void InHead(Segment s, string what)
        {
            if (s.Start < 0 || s.Length < 0 || s.Start + s.Length > r.Consumed)
                Assert.Fail($"{what} {s} outside the head of {r.Consumed} bytes for {Show(input)}");
        }
        InHead(head.MethodText, "method");
        InHead(head.Target, "target");
        InHead(head.Path, "path");
        InHead(head.Query, "query");
        if (head.MethodText.Length == 0 || head.Target.Length == 0) Assert.Fail($"empty method or target for {Show(input)}");
        if (head.VersionMinor is not (0 or 1)) Assert.Fail($"version 1.{head.VersionMinor} for {Show(input)}");
        if (head.Chunked && head.ContentLength >= 0) Assert.Fail($"both chunked and Content-Length for {Show(input)}");
        head.CopyFrom(input.AsSpan(0, r.Consumed));
        for (int i = 0; i < head.HeaderCount; i++)
        {
            var name = head.HeaderName(i);
            var value = head.HeaderValue(i);
            if (!HttpChars.IsToken(name) || !HttpChars.IsFieldValue(value)) Assert.Fail($"bad field {i} for {Show(input)}");
            if (!value.IsEmpty && (value[0] is (byte)' ' or (byte)'\t' || value[^1] is (byte)' ' or (byte)'\t'))
                Assert.Fail($"untrimmed value {i} for {Show(input)}");
        }
    }

    private static byte[] RandomInput(Random rng)
    {
        int kind = rng.Next(4);
        return kind switch
        {
            0 => RandomBytes(rng, rng.Next(0, 120), null),
            1 => RandomBytes(rng, rng.Next(0, 200), HttpAlphabet),
            // A plausible request line followed by random field bytes.
            _ => [.. "GET / HTTP/1.1\r\nHost: a\r\n"u8.ToArray().Take(rng.Next(0, 26)), .. RandomBytes(rng, rng.Next(0, 100), HttpAlphabet), .. "\r\n\r\n"u8.ToArray().Take(rng.Next(0, 5))],
        };
    }

    private static byte[] RandomBytes(Random rng, int length, byte[]? alphabet)
    {
        var b = new byte[length];
        if (alphabet is null) rng.NextBytes(b);
        else for (int i = 0; i < length; i++) b[i] = alphabet[rng.Next(alphabet.Length)];
        return b;
    }

    private static byte[] Mutate(Random rng, List<byte[]> seeds)
    {
        var input = seeds[rng.Next(seeds.Count)];
        if (rng.Next(8) == 0)
        {
            // Splice two requests.
            var other = seeds[rng.Next(seeds.Count)];
            input = [.. input.Take(rng.Next(input.Length + 1)), .. other.Skip(rng.Next(other.Length + 1))];
        }
        return MutateBytes(rng, input, rng.Next(1, 5));
    }

    private static byte[] MutateBytes(Random rng, byte[] source, int mutations)
    {
        var b = new List<byte>(source);
        for (int m = 0; m < mutations; m++)
        {
            switch (rng.Next(8))
            {
                case 0 when b.Count > 0: // bit flip
                    b[rng.Next(b.Count)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // insert a random or interesting byte
                    b.Insert(rng.Next(b.Count + 1), rng.Next(2) == 0 ? (byte)rng.Next(256) : Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 2 when b.Count > 0: // delete a byte
                    b.RemoveAt(rng.Next(b.Count));
                    break;
                case 3 when b.Count > 0: // overwrite with an interesting byte
                    b[rng.Next(b.Count)] = Interesting[rng.Next(Interesting.Length)];
                    break;
                case 4: // duplicate a line
                    {
                        var lines = LineStarts(b);
                        int i = rng.Next(lines.Count);
                        int start = lines[i], end = i + 1 < lines.Count ? lines[i + 1] : b.Count;
                        b.InsertRange(end, b.GetRange(start, end - start));
                        break;
                    }
                case 5: // swap CR and LF, or drop one of them
                    {
                        var at = Enumerable.Range(0, b.Count).Where(i => b[i] is (byte)'\r' or (byte)'\n').ToList();
                        if (at.Count == 0) break;
                        int i = at[rng.Next(at.Count)];
                        if (rng.Next(3) == 0) b.RemoveAt(i);
                        else b[i] = b[i] == (byte)'\r' ? (byte)'\n' : (byte)'\r';
                        break;
                    }
                case 6 when b.Count > 0: // truncate
                                        b = b.Take(rng.Next(b.Count + 1)).ToList();
                    break;
                default: // repeat a run of bytes, to reach the size limits
                    if (b.Count == 0) break;
                    {
                        int start = rng.Next(b.Count), len = Math.Min(rng.Next(1, 16), b.Count - start);
                        var run = b.GetRange(start, len);
                        int times = rng.Next(1, 12);
                        for (int t = 0; t < times; t++) b.InsertRange(start, run);
                    }
                    break;
            }
        }
        return b.ToArray();
    }

    private static List<int> LineStarts(List<byte> b)
    {
        var starts = new List<int> { 0 };
        for (int i = 0; i < b.Count; i++) if (b[i] == (byte)'\n' && i + 1 < b.Count) starts.Add(i + 1);
        return starts;
    }

    private static byte[] ValidChunked(Random rng)
    {
        var sb = new StringBuilder();
        int chunks = rng.Next(0, 5);
        for (int i = 0; i < chunks; i++)
        {
            int size = rng.Next(1, 40);
            sb.Append(rng.Next(2) == 0 ? size.ToString("x") : size.ToString("X"));
            if (rng.Next(4) == 0) sb.Append(";ext=").Append(rng.Next(3) == 0 ? "\"q;v\"" : "v");
            sb.Append("\r\n").Append(new string((char)('a' + i), size)).Append("\r\n");
        }
        sb.Append("0\r\n");
        if (rng.Next(3) == 0) sb.Append("X-Trailer: v\r\n");
        sb.Append("\r\n");
        if (rng.Next(4) == 0) sb.Append("GET / HTTP/1.1\r\n");
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    private static string Describe(HttpLimits l) =>
        $"limits {l.MaxRequestLine}/{l.MaxHeaderFields}/{l.MaxHeaderFieldSize}/{l.MaxHeadersTotalSize}";

    private static string Show(byte[] input)
    {
        var sb = new StringBuilder("\"");
        foreach (var b in input)
        {
            sb.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                (byte)'\\' => "\\\\",
                (byte)'"' => "\\\"",
                < 0x20 or >= 0x7F => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
        }
        return sb.Append('"').ToString();
    }
}
