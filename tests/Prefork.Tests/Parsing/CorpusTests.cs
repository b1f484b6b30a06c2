using System.Text;
using Prefork.App;
using Prefork.Http;

namespace Prefork.Tests.Parsing;

/// <summary>
/// Every request in Parsing/Corpus, fed whole, line by line, byte by byte and in seeded random pieces: the
/// outcome (status, reason, consumed) must not depend on how the bytes arrived, and must be what the file says.
/// </summary>
public class CorpusTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var file in CorpusCase.Files()) data.Add(file);
        return data;
    }

    [Fact]
    public void CorpusIsLargeAndCoversBothOutcomes()
    {
        var cases = CorpusCase.Files().Select(CorpusCase.Load).ToList();
        Assert.True(cases.Count >= 80, $"only {cases.Count} corpus cases");
        Assert.Contains(cases, c => c.ExpectedStatus == ParseStatus.Complete);
        Assert.Contains(cases, c => c.ExpectedStatus == ParseStatus.Rejected);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Corpus(string file)
    {
        var c = CorpusCase.Load(file);
        var head = new RequestHead();
        var whole = RequestParser.TryParseHead(c.Input, c.Limits, head);

        // The file's verdict.
        Assert.Equal(c.ExpectedStatus, whole.Status);
        if (whole.Status == ParseStatus.Rejected)
        {
            Assert.Equal(0, whole.Consumed);
            if (c.ExpectedCode is int code) Assert.Equal(code, whole.Reason.StatusCode());
            if (c.ExpectedReason is RejectReason reason) Assert.Equal(reason, whole.Reason);
        }
        else
        {
            Assert.Equal(RejectReason.None, whole.Reason);
        }
        if (whole.Status == ParseStatus.Complete) CheckHead(c, whole, head);

        // The same verdict however the bytes arrive.
        int seed = StableHash(file);
        foreach (var (name, ends) in Feeding.Chunkings(c.Input, seed))
        {
            var (result, decidedAt) = Feeding.Feed(c.Input, ends, c.Limits, head);
            Assert.True(result == whole, $"{file} fed {name}: got {result} at {decidedAt} bytes, whole gives {whole}");
            if (result.Status == ParseStatus.Complete)
            {
                Assert.True(result.Consumed <= decidedAt, $"{file} fed {name}: consumed {result.Consumed} of {decidedAt}");
                CheckHead(c, result, head);
            }
        }
    }

    private static void CheckHead(CorpusCase c, ParseResult result, RequestHead head)
    {
        Assert.InRange(result.Consumed, 1, c.Input.Length);
        head.CopyFrom(c.Input.AsSpan(0, result.Consumed));
        var expectedHeaders = new List<string>();
        int rest = 0;
        foreach (var (key, value) in c.Checks)
        {
            switch (key)
            {
                case "method": Assert.Equal(value, Text(head[head.MethodText])); break;
                case "method-enum": Assert.Equal(Enum.Parse<Method>(value), head.Method); break;
                case "target": Assert.Equal(value, Text(head[head.Target])); break;
                case "path": Assert.Equal(value, Text(head[head.Path])); break;
                case "query": Assert.Equal(value, Text(head[head.Query])); break;
                case "authority": Assert.Equal(value, Text(head[head.Authority])); break;
                case "version": Assert.Equal(value, "1." + head.VersionMinor); break;
                case "header": expectedHeaders.Add(value); break;
                case "headers": Assert.Equal(int.Parse(value), head.HeaderCount); break;
                case "content-length": Assert.Equal(long.Parse(value), head.ContentLength); break;
                case "chunked": Assert.Equal(bool.Parse(value), head.Chunked); break;
                case "host": Assert.Equal(bool.Parse(value), head.HasHost); break;
                case "close": Assert.Equal(bool.Parse(value), head.ConnectionClose); break;
                case "keep-alive": Assert.Equal(bool.Parse(value), head.ConnectionKeepAlive); break;
                case "expect-continue": Assert.Equal(bool.Parse(value), head.ExpectContinue); break;
                case "rest": rest = int.Parse(value); break;
                default: throw new InvalidOperationException($"{c.Name}: unknown check '{key}'");
            }
        }
        Assert.Equal(c.Input.Length - rest, result.Consumed);
        if (expectedHeaders.Count > 0)
        {
            var actual = Enumerable.Range(0, head.HeaderCount)
                .Select(i => Text(head.HeaderName(i)) + ":" + (head.HeaderValue(i).IsEmpty ? "" : " " + Text(head.HeaderValue(i))))
                .ToList();
            Assert.Equal(expectedHeaders, actual);
        }
    }

    private static string Text(ReadOnlySpan<byte> s) => Encoding.Latin1.GetString(s);

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (var ch in s) h = unchecked(h * 31 + ch);
        return h & 0x7FFF_FFFF;
    }
}
