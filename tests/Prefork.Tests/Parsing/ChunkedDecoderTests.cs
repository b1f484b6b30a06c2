using System.Text;
using Prefork.App;
using Prefork.Http;

namespace Prefork.Tests.Parsing;

/// <summary>
/// Chunked bodies (RFC 9112 §7.1), each decoded whole, byte by byte and in seeded random pieces the way the
/// connection feeds the decoder: the decoded bytes, the final status and the bytes used must not depend on the split.
/// Inputs and expected bodies use the corpus escapes (\r \n \t \0 \\ \xHH).
/// </summary>
public class ChunkedDecoderTests
{
    public static TheoryData<string, string, string, int> Bodies()
    {
        var d = new TheoryData<string, string, string, int>
        {
            // input, expected outcome (done | rejected | needmore), decoded body, bytes left after Done
            { @"5\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"0\r\n\r\n", "done", "", 0 },
            { @"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "done", "hello world", 0 },
            { @"5;name=value\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"5;name=""quoted; \\"" x""\r\nhello\r\n0;last\r\n\r\n", "done", "hello", 0 },
            { @"5;a;b=1;c=""2""\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"5 ;a=b\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"5\t;a\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"5 ; a = b ;c= ""d""\t;e\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"5;a=""\xe9\t""\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            { @"A\r\n0123456789\r\n0\r\n\r\n", "done", "0123456789", 0 },
            { @"a\r\n0123456789\r\n0\r\n\r\n", "done", "0123456789", 0 },
            { @"1f\r\n" + new string('z', 31) + @"\r\n0\r\n\r\n", "done", new string('z', 31), 0 },
            { @"1F\r\n" + new string('z', 31) + @"\r\n0\r\n\r\n", "done", new string('z', 31), 0 },
            { @"0005\r\nhello\r\n0000\r\n\r\n", "done", "hello", 0 },
            { @"3\r\n\r\n\0\r\n0\r\n\r\n", "done", @"\r\n\0", 0 },
            { @"2\r\n\xff\x80\r\n0\r\n\r\n", "done", @"\xff\x80", 0 },
            { @"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "done", "hello", 16 },
            { @"0\r\nX-Trailer: v\r\n\r\n", "done", "", 0 },
            { @"5\r\nhello\r\n0\r\nA: 1\r\nB:2\r\nC:\r\nD: \xe9\t\r\n\r\n", "done", "hello", 0 },
            { @"5\r\nhel", "needmore", "hel", 0 },
            { @"5\r\nhello\r\n", "needmore", "hello", 0 },
            { @"5\r\nhello\r\n0\r\nX: a\r\n", "needmore", "hello", 0 },
            { @"FFFFFFFFFFFFFFF\r\nabc", "needmore", "abc", 0 },
            { @"0000000000000000000000005\r\nhello\r\n0\r\n\r\n", "done", "hello", 0 },
            // invalid size
            { @"g\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5x\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @";a=b\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @" 5\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"-5\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"+5\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"0x5\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"10000000000000000\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"FFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a\x01\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a\x7f\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;" + new string('a', 5000) + @"\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            // extensions off their grammar (RFC 9112 §7.1.1): no ";", no name, no value after "=", an open quote
            { @"5 junk\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5 \r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5; \r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;=b\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a=\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a b\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a=b c\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a=""x""y\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a=""x\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a=b(c)\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a=""\x01""\r\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            // data overrunning or short of its size
            { @"5\r\nhelloX\r\n0\r\n\r\n", "rejected", "hello", 0 },
            { @"5\r\nhell\r\n0\r\n\r\n", "rejected", @"hell\r", 0 },
            { @"5\r\nhello0\r\n\r\n", "rejected", "hello", 0 },
            // bare CR / bare LF
            { @"5\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5\rhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5;a\nhello\r\n0\r\n\r\n", "rejected", "", 0 },
            { @"5\r\nhello\n0\r\n\r\n", "rejected", "hello", 0 },
            { @"5\r\nhello\r0\r\n\r\n", "rejected", "hello", 0 },
            { @"0\r\n\n", "rejected", "", 0 },
            { @"0\r\n\rX", "rejected", "", 0 },
            { @"0\r\nX: a\n\r\n", "rejected", "", 0 },
            { @"0\r\nX: a\rb\r\n\r\n", "rejected", "", 0 },
            // junk in the trailer section
            { @"0\r\nnot a header\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX : a\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nNoColon\r\n\r\n", "rejected", "", 0 },
            { @"0\r\n: empty name\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX: a\0b\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX: a\x1b\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX\xe9: a\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX: a\r\n b\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX: a\r\n\tb\r\n\r\n", "rejected", "", 0 },
            { @"0\r\nX: " + new string('v', 17000) + @"\r\n\r\n", "rejected", "", 0 },
        };

        // Many tiny chunks.
        var tiny = new StringBuilder();
        var body = new StringBuilder();
        for (int i = 0; i < 300; i++)
        {
            char c = (char)('a' + i % 26);
            tiny.Append(@"1\r\n").Append(c).Append(@"\r\n");
            body.Append(c);
        }
        d.Add(tiny + @"0\r\n\r\n", "done", body.ToString(), 0);

        // Chunks of many sizes, sizes in mixed case hex.
        var mixed = new StringBuilder();
        var mixedBody = new StringBuilder();
        for (int n = 1; n < 300; n += 37)
        {
            var data = new string((char)('A' + n % 26), n);
            mixed.Append(n % 2 == 0 ? n.ToString("x") : n.ToString("X")).Append(@"\r\n").Append(data).Append(@"\r\n");
            mixedBody.Append(data);
        }
        d.Add(mixed + @"0\r\n\r\n", "done", mixedBody.ToString(), 0);
        return d;
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Decodes(string escapedInput, string outcome, string escapedBody, int rest)
    {
        var input = Encoding.Latin1.GetBytes(CorpusCase.Unescape(escapedInput));
        var expectedBody = Encoding.Latin1.GetBytes(CorpusCase.Unescape(escapedBody));
        var expectedStatus = outcome switch
        {
            "done" => ChunkStatus.Done,
            "rejected" => ChunkStatus.Rejected,
            "needmore" => ChunkStatus.NeedMore,
            _ => throw new ArgumentException(outcome),
        };

        var whole = Run(input, [input.Length]);
        Assert.Equal(expectedStatus, whole.Status);
        Assert.Equal(expectedBody, whole.Body);
        if (whole.Status == ChunkStatus.Done) Assert.Equal(input.Length - rest, whole.Used);

        foreach (var (name, ends) in Feeding.Chunkings(input, escapedInput.Length))
        {
            var split = Run(input, ends);
            Assert.True(split.Status == whole.Status, $"fed {name}: {split.Status}, whole {whole.Status}");
            Assert.True(split.Used == whole.Used, $"fed {name}: used {split.Used}, whole {whole.Used}");
            Assert.Equal(whole.Body, split.Body);
        }
    }

    /// <summary>
    /// Feeds the decoder like the connection: everything arrived and not yet consumed, again after each Data,
    /// and more bytes after NeedMore. Checks each call's answer stays inside what it was given.
    /// </summary>
    internal static (ChunkStatus Status, byte[] Body, int Used) Run(byte[] input, int[] ends)
    {
        var decoder = new ChunkedDecoder();
        var body = new List<byte>();
        int start = 0, next = 0, arrived = ends[next++];
        // Each call consumes at least one byte unless it has none, so this bound is never reached by a correct decoder.
        int budget = 2 * input.Length + ends.Length + 4;
        while (true)
        {
            if (--budget < 0) throw new Xunit.Sdk.XunitException("decoder does not make progress");
            var given = input.AsSpan(start, arrived - start);
            var status = decoder.Decode(given, out int consumed, out int dataStart, out int dataLength);
            if (consumed < 0 || consumed > given.Length) throw new Xunit.Sdk.XunitException($"consumed {consumed} of {given.Length}");
            if (given.Length > 0 && consumed == 0) throw new Xunit.Sdk.XunitException($"{status} consumed nothing of {given.Length}");
            if (status == ChunkStatus.Data)
            {
                if (dataLength <= 0 || dataStart < 0 || dataStart + dataLength > consumed)
                    throw new Xunit.Sdk.XunitException($"data [{dataStart}, +{dataLength}) outside consumed {consumed}");
                body.AddRange(given.Slice(dataStart, dataLength).ToArray());
            }
            else if (dataLength != 0)
            {
                throw new Xunit.Sdk.XunitException($"{status} with data length {dataLength}");
            }
            start += consumed;
            if (status is ChunkStatus.Done or ChunkStatus.Rejected) return (status, body.ToArray(), start);
            if (status == ChunkStatus.NeedMore)
            {
                if (start != arrived) throw new Xunit.Sdk.XunitException("NeedMore left bytes unconsumed");
                if (next == ends.Length) return (status, body.ToArray(), start);
                arrived = ends[next++];
            }
        }
    }
}
