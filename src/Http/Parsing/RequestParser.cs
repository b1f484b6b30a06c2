using Prefork.App;

namespace Prefork.Http;

internal enum ParseStatus { Incomplete, Complete, Rejected }

internal readonly record struct ParseResult(ParseStatus Status, int Consumed, RejectReason Reason)
{
    public static ParseResult Incomplete => new(ParseStatus.Incomplete, 0, RejectReason.None);
    public static ParseResult Reject(RejectReason reason) => new(ParseStatus.Rejected, 0, reason);
}

/// <summary>
/// A pure function over bytes: given what has arrived so far, the request head is incomplete, complete
/// (with how many bytes it took), or rejected with a reason. It keeps no state between calls, so a head that
/// arrives a byte at a time is parsed the same as one that arrives whole; limits are checked on what has
/// arrived, so an over-long line is refused before it ends.
/// </summary>
internal static class RequestParser
{
    private const byte CR = (byte)'\r', LF = (byte)'\n', SP = (byte)' ', HTAB = (byte)'\t';

    public static ParseResult TryParseHead(ReadOnlySpan<byte> input, HttpLimits limits, RequestHead head)
    {
        head.Reset();

        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request line
        // (some clients send a stray CRLF after a POST body).
        int pos = 0;
        while (pos + 1 < input.Length && input[pos] == CR && input[pos + 1] == LF && pos < limits.MaxRequestLine) pos += 2;

        // The length limit is judged on the bytes before the LF first, exactly as it is while the line is still
        // arriving: a line that is already too long was refused with 414 before its LF could be seen, so it gets
        // 414 here too, whatever it ends in (otherwise the status would depend on how the bytes were split).
        // Skipped empty lines count towards it, so the whole head stays within HttpLimits.MaxHeadSize, which
        // the connection sizes its buffer by.
        int lineEnd = input[pos..].IndexOf(LF);
        int arrived = pos + (lineEnd < 0 ? input.Length - pos : lineEnd);
        if (arrived > limits.MaxRequestLine + 1) return ParseResult.Reject(RejectReason.RequestLineTooLong);
        if (lineEnd < 0) return ParseResult.Incomplete;
        // RFC 9112 §2.2: lines end in CRLF. A bare LF is refused, so every hop agrees on where a line ends.
        if (lineEnd == 0 || input[pos + lineEnd - 1] != CR) return ParseResult.Reject(RejectReason.InvalidRequestLine);

        var reason = ParseRequestLine(input.Slice(pos, lineEnd - 1), pos, head);
        if (reason != RejectReason.None) return ParseResult.Reject(reason);
        pos += lineEnd + 1;

        int headersStart = pos;
        var framing = new Framing();
        while (true)
        {
            var rest = input[pos..];
            int lf = rest.IndexOf(LF);
            // As for the request line: the limits on a line still arriving also apply to the bytes before its LF,
            // before the line end is looked at, so a split input and a whole one get the same answer.
            reason = ArrivingLineLimit(lf < 0 ? rest : rest[..lf], pos - headersStart, head.HeaderCount, limits);
            if (reason != RejectReason.None) return ParseResult.Reject(reason);
            if (lf < 0) return ParseResult.Incomplete;
            if (lf == 0 || rest[lf - 1] != CR) return ParseResult.Reject(RejectReason.InvalidHeader);

            var line = rest[..(lf - 1)];
            if (line.IsEmpty)
            {
                pos += 2;
                break;
            }
            // The field-size and field-count limits were judged above; a whole line may still overrun the section.
            if (pos + lf + 1 - headersStart > limits.MaxHeadersTotalSize) return ParseResult.Reject(RejectReason.HeadersTooLarge);

            reason = ParseFieldLine(line, pos, head, ref framing);
            if (reason != RejectReason.None) return ParseResult.Reject(reason);
            pos += lf + 1;
        }

        reason = framing.Apply(head);
        return reason == RejectReason.None
            ? new ParseResult(ParseStatus.Complete, pos, RejectReason.None)
            : ParseResult.Reject(reason);
    }

    /// <summary>
    /// The limits on a header line of which <paramref name="arrived"/> (the bytes before any LF) has come in, after
    /// <paramref name="sectionSoFar"/> bytes of earlier field lines. Each limit is crossed at some length of the
    /// line; if several are crossed, the one crossed first is reported, as it would have been had the line come a
    /// byte at a time, so the reason does not depend on how the bytes were split.
    /// </summary>
    private static RejectReason ArrivingLineLimit(ReadOnlySpan<byte> arrived, int sectionSoFar, int headerCount, HttpLimits limits)
    {
        long length = arrived.Length;
        // Field line (plus its CR) longer than MaxHeaderFieldSize (+1).
        long fieldAt = (long)limits.MaxHeaderFieldSize + 2;
        // Field lines so far plus this one (plus CRLF) past MaxHeadersTotalSize (+2).
        long totalAt = (long)limits.MaxHeadersTotalSize + 3 - sectionSoFar;
        // One field line too many: known from its first byte, or its second if the first is the CR of the end.
        long countAt = headerCount < limits.MaxHeaderFields ? long.MaxValue : arrived.IsEmpty || arrived[0] != CR ? 1 : 2;

        var reason = RejectReason.None;
        long first = long.MaxValue;
        if (fieldAt <= length) { first = fieldAt; reason = RejectReason.HeaderFieldTooLarge; }
        if (countAt <= length && countAt < first) { first = countAt; reason = RejectReason.TooManyHeaders; }
        if (totalAt <= length && totalAt < first) reason = RejectReason.HeadersTooLarge;
        return reason;
    }

    /// <summary>RFC 9112 §3: method SP request-target SP HTTP-version, each part exactly as the grammar says.</summary>
    private static RejectReason ParseRequestLine(ReadOnlySpan<byte> line, int offset, RequestHead head)
    {
        int sp1 = line.IndexOf(SP);
        if (sp1 <= 0 || !HttpChars.IsToken(line[..sp1])) return RejectReason.InvalidRequestLine;
        var method = line[..sp1];
        head.MethodText = new Segment(offset, sp1);
        head.Method = HttpChars.ParseMethod(method);

        var afterMethod = line[(sp1 + 1)..];
        int sp2 = afterMethod.IndexOf(SP);
        if (sp2 <= 0) return RejectReason.InvalidRequestLine;
        var version = afterMethod[(sp2 + 1)..];

        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || !char.IsAsciiDigit((char)version[5])
            || version[6] != (byte)'.' || !char.IsAsciiDigit((char)version[7]))
        {
            return RejectReason.InvalidRequestLine;
        }
        if (version[5] != (byte)'1') return RejectReason.UnsupportedVersion;
        // RFC 9110 §2.5: a later minor version of a major one we speak is served as the highest we know, 1.1.
        head.VersionMinor = version[7] == (byte)'0' ? 0 : 1;

        int targetStart = offset + sp1 + 1;
        return ParseTarget(afterMethod[..sp2], targetStart, head);
    }

    /// <summary>RFC 9112 §3.2: origin-form, absolute-form, authority-form (CONNECT) or asterisk-form (OPTIONS).</summary>
    private static RejectReason ParseTarget(ReadOnlySpan<byte> target, int offset, RequestHead head)
    {
        foreach (var b in target)
        {
            if (b <= SP || b >= 0x7F || b == (byte)'#') return RejectReason.InvalidRequestTarget;
        }
        head.Target = new Segment(offset, target.Length);

        int pathStart;
        if (target[0] == (byte)'/')
        {
            pathStart = 0;
        }
        else if (target.Length == 1 && target[0] == (byte)'*')
        {
            if (head.Method != Method.Options) return RejectReason.InvalidRequestTarget;
            head.Path = head.Target;
            return RejectReason.None;
        }
        else if (HttpChars.StartsWithIgnoreCase(target, "http://"u8) || HttpChars.StartsWithIgnoreCase(target, "https://"u8))
        {
            int authorityStart = target.IndexOf("//"u8) + 2;
            int authorityEnd = target[authorityStart..].IndexOfAny((byte)'/', (byte)'?');
            var authority = authorityEnd < 0 ? target[authorityStart..] : target.Slice(authorityStart, authorityEnd);
            if (!HttpChars.IsAuthority(authority, portRequired: false)) return RejectReason.InvalidRequestTarget;
            head.Authority = new Segment(offset + authorityStart, authority.Length);
            if (authorityEnd < 0)
            {
                // "http://host" has an empty path, which means "/" (RFC 9110 §4.2.3); Path stays empty here.
                head.Path = new Segment(offset + target.Length, 0);
                return RejectReason.None;
            }
            pathStart = authorityStart + authorityEnd;
        }
        else if (head.Method == Method.Connect)
        {
            if (!HttpChars.IsAuthority(target, portRequired: true)) return RejectReason.InvalidRequestTarget;
            head.Path = head.Target;
            return RejectReason.None;
        }
        else
        {
            return RejectReason.InvalidRequestTarget;
        }

        var pathAndQuery = target[pathStart..];
        int q = pathAndQuery.IndexOf((byte)'?');
        if (q < 0)
        {
            head.Path = new Segment(offset + pathStart, pathAndQuery.Length);
        }
        else
        {
            head.Path = new Segment(offset + pathStart, q);
            head.Query = new Segment(offset + pathStart + q + 1, pathAndQuery.Length - q - 1);
        }
        return RejectReason.None;
    }

    /// <summary>RFC 9112 §5: field-name ":" OWS field-value OWS; no whitespace before the colon, no obs-fold.</summary>
    private static RejectReason ParseFieldLine(ReadOnlySpan<byte> line, int offset, RequestHead head, ref Framing framing)
    {
        // A line that starts with whitespace is obs-fold (RFC 9112 §5.2): refused, not unfolded.
        if (line[0] == SP || line[0] == HTAB) return RejectReason.InvalidHeader;
        int colon = line.IndexOf((byte)':');
        if (colon <= 0 || !HttpChars.IsToken(line[..colon])) return RejectReason.InvalidHeader;

        int valueStart = colon + 1, valueEnd = line.Length;
        while (valueStart < valueEnd && (line[valueStart] == SP || line[valueStart] == HTAB)) valueStart++;
        while (valueEnd > valueStart && (line[valueEnd - 1] == SP || line[valueEnd - 1] == HTAB)) valueEnd--;
        var value = line[valueStart..valueEnd];
        if (!HttpChars.IsFieldValue(value)) return RejectReason.InvalidHeader;

        head.AddHeader(new Segment(offset, colon), new Segment(offset + valueStart, value.Length));
        return framing.Observe(line[..colon], value, head);
    }

    /// <summary>The header fields that decide how the body is framed, gathered as they are seen and judged at the end.</summary>
    private struct Framing
    {
        private bool _hasTransferEncoding, _unknownCoding, _lastIsChunked;
        private int _chunkedCount, _otherCodings;

        public RejectReason Observe(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, RequestHead head)
        {
            if (HttpChars.EqualsIgnoreCase(name, "content-length"u8))
            {
                // RFC 9110 §8.6: a list of identical values may be taken as one; anything else is an error.
                foreach (var range in value.Split((byte)','))
                {
                    var item = HttpChars.TrimOws(value[range]);
                    if (!HttpChars.TryParseDecimal(item, out long length)) return RejectReason.InvalidContentLength;
                    if (head.ContentLength >= 0 && head.ContentLength != length) return RejectReason.InvalidContentLength;
                    head.ContentLength = length;
                }
            }
            else if (HttpChars.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                _hasTransferEncoding = true;
                foreach (var range in value.Split((byte)','))
                {
                    var coding = HttpChars.TrimOws(value[range]);
                    if (coding.IsEmpty) continue;
                    if (HttpChars.EqualsIgnoreCase(coding, "chunked"u8))
                    {
                        _chunkedCount++;
                        _lastIsChunked = true;
                        continue;
                    }
                    _lastIsChunked = false;
                    if (HttpChars.IsRegisteredCoding(coding)) _otherCodings++;
                    else _unknownCoding = true;
                }
            }
            else if (HttpChars.EqualsIgnoreCase(name, "host"u8))
            {
                if (head.HasHost) return RejectReason.DuplicateHost;
                if (!HttpChars.IsHost(value)) return RejectReason.InvalidHost;
                head.HasHost = true;
            }
            else if (HttpChars.EqualsIgnoreCase(name, "connection"u8))
            {
                foreach (var range in value.Split((byte)','))
                {
                    var option = HttpChars.TrimOws(value[range]);
                    if (HttpChars.EqualsIgnoreCase(option, "close"u8)) head.ConnectionClose = true;
                    else if (HttpChars.EqualsIgnoreCase(option, "keep-alive"u8)) head.ConnectionKeepAlive = true;
                    else if (HttpChars.EqualsIgnoreCase(option, "upgrade"u8)) head.ConnectionUpgrade = true;
                }
            }
            else if (HttpChars.EqualsIgnoreCase(name, "upgrade"u8))
            {
                head.HasUpgrade = true;
            }
            else if (HttpChars.EqualsIgnoreCase(name, "expect"u8))
            {
                // RFC 9110 §10.1.1: 100-continue is the only expectation; any other gets 417.
                if (!HttpChars.EqualsIgnoreCase(value, "100-continue"u8)) return RejectReason.ExpectationFailed;
                head.ExpectContinue = true;
            }
            return RejectReason.None;
        }

        /// <summary>RFC 9112 §6.1 and §6.3: the checks that keep two parsers from disagreeing on where a body ends.</summary>
        public readonly RejectReason Apply(RequestHead head)
        {
            if (head.VersionMinor == 1 && !head.HasHost) return RejectReason.MissingHost;
            if (!_hasTransferEncoding) return RejectReason.None;
            if (head.VersionMinor == 0) return RejectReason.TransferEncodingInHttp10;
            if (head.ContentLength >= 0) return RejectReason.ContentLengthWithTransferEncoding;
            if (_unknownCoding) return RejectReason.UnsupportedTransferCoding;
            if (!_lastIsChunked || _chunkedCount != 1) return RejectReason.ChunkedNotFinal;
            if (_otherCodings > 0) return RejectReason.UnsupportedTransferCoding;
            head.Chunked = true;
            return RejectReason.None;
        }
    }
}
