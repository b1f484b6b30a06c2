namespace Prefork.Http;

internal enum ChunkStatus { NeedMore, Data, Done, Rejected }

/// <summary>
/// Decodes a chunked request body (RFC 9112 §7.1) a byte at a time, so it works on any split of the input.
/// Each call returns at most one run of body bytes, found inside the input it was given, of at most
/// <c>maxData</c> bytes (what the reader has room for; the rest of the chunk comes on the next call). Extensions are
/// checked against their grammar and skipped; trailer fields are checked and dropped.
/// </summary>
internal struct ChunkedDecoder
{
    // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ) (RFC 9112 §7.1.1): ExtBws is
    // the whitespace before a ";", ExtNameStart after it, ExtAfterName before a "=", ExtValueStart after it.
    private enum State
    {
        SizeStart, Size, ExtBws, ExtNameStart, ExtName, ExtAfterName, ExtValueStart, ExtToken, ExtQuoted, ExtQuotedPair,
        ExtAfterQuoted, SizeLf, Data, DataCr, DataLf, TrailerStart, Trailer, TrailerLf, EndLf, Done,
    }

    // Longest chunk-size line (size and extensions) and trailer section we read before refusing.
    private const int MaxLine = 4096;
    private const int MaxTrailers = 16 * 1024;

    private State _state;
    private long _remaining;
    private int _lineLength;
    private int _trailerBytes;
    private bool _trailerHasColon;

    public readonly bool IsDone => _state == State.Done;

    /// <summary>
    /// Bytes of the current chunk not given out yet; while its size line is read, the size as far as it has come,
    /// which only grows: enough for a reader to refuse a chunk its limit cannot hold before any of it arrives.
    /// </summary>
    public readonly long PendingChunkBytes => _remaining;

    public ChunkStatus Decode(ReadOnlySpan<byte> input, out int consumed, out int dataStart, out int dataLength, int maxData = int.MaxValue)
    {
        dataStart = dataLength = 0;
        int i = 0;
        while (i < input.Length)
        {
            if (_state == State.Data)
            {
                int n = (int)Math.Min(Math.Min(_remaining, input.Length - i), maxData);
                dataStart = i;
                dataLength = n;
                _remaining -= n;
                if (_remaining == 0) _state = State.DataCr;
                consumed = i + n;
                return ChunkStatus.Data;
            }

            byte b = input[i++];
            if (!Step(b))
            {
                consumed = i;
                return ChunkStatus.Rejected;
            }
            if (_state == State.Done)
            {
                consumed = i;
                return ChunkStatus.Done;
            }
        }
        consumed = i;
        return ChunkStatus.NeedMore;
    }

    private bool Step(byte b)
    {
        switch (_state)
        {
            case State.SizeStart:
                if (HexValue(b) < 0) return false;
                _remaining = HexValue(b);
                _lineLength = 1;
                _state = State.Size;
                return true;
            case State.Size:
                if (++_lineLength > MaxLine) return false;
                if (HexValue(b) >= 0)
                {
                    // 15 hex digits is already far past any body limit; more would overflow.
                    if (_remaining > 0x0FFF_FFFF_FFFF_FFFF >> 4) return false;
                    _remaining = (_remaining << 4) | (uint)HexValue(b);
                    return true;
                }
                return EndOfValue(b);
            case >= State.ExtBws and <= State.ExtAfterQuoted:
                return ++_lineLength <= MaxLine && StepExtension(b);
            case State.SizeLf:
                if (b != (byte)'\n') return false;
                _state = _remaining == 0 ? State.TrailerStart : State.Data;
                return true;
            case State.DataCr:
                // Anything but CRLF right after the chunk's bytes means the size lied: refuse rather than guess.
                if (b != (byte)'\r') return false;
                _state = State.DataLf;
                return true;
            case State.DataLf:
                if (b != (byte)'\n') return false;
                _state = State.SizeStart;
                return true;
            case State.TrailerStart:
                if (b == (byte)'\r') { _state = State.EndLf; return true; }
                if (!HttpChars.IsTokenChar(b)) return false;
                _trailerHasColon = false;
                _state = State.Trailer;
                return CountTrailer();
            case State.Trailer:
                if (b == (byte)'\r')
                {
                    if (!_trailerHasColon) return false;
                    _state = State.TrailerLf;
                    return CountTrailer();
                }
                if (b == (byte)':') _trailerHasColon = true;
                else if (!_trailerHasColon && !HttpChars.IsTokenChar(b)) return false;
                else if ((b < 0x20 && b != (byte)'\t') || b == 0x7F) return false;
                return CountTrailer();
            case State.TrailerLf:
                if (b != (byte)'\n') return false;
                _state = State.TrailerStart;
                return CountTrailer();
            case State.EndLf:
                if (b != (byte)'\n') return false;
                _state = State.Done;
                return true;
            default:
                return false;
        }
    }

    private bool StepExtension(byte b)
    {
        bool space = b is (byte)' ' or (byte)'\t';
        switch (_state)
        {
            case State.ExtBws:
                if (b == (byte)';') _state = State.ExtNameStart;
                return space || b == (byte)';';
            case State.ExtNameStart:
                if (HttpChars.IsTokenChar(b)) _state = State.ExtName;
                return space || HttpChars.IsTokenChar(b);
            case State.ExtName:
                if (HttpChars.IsTokenChar(b)) return true;
                if (b == (byte)'=') { _state = State.ExtValueStart; return true; }
                if (space) { _state = State.ExtAfterName; return true; }
                return EndOfValue(b);
            case State.ExtAfterName:
                if (b == (byte)'=') _state = State.ExtValueStart;
                else if (b == (byte)';') _state = State.ExtNameStart;
                return space || b is (byte)'=' or (byte)';';
            case State.ExtValueStart:
                if (b == (byte)'"') _state = State.ExtQuoted;
                else if (HttpChars.IsTokenChar(b)) _state = State.ExtToken;
                return space || b == (byte)'"' || HttpChars.IsTokenChar(b);
            case State.ExtToken:
                return HttpChars.IsTokenChar(b) || EndOfValue(b);
            case State.ExtQuoted:
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4)
                if (b == (byte)'"') _state = State.ExtAfterQuoted;
                else if (b == (byte)'\\') _state = State.ExtQuotedPair;
                return space || (b >= 0x21 && b != 0x7F);
            case State.ExtQuotedPair:
                _state = State.ExtQuoted;
                return space || (b >= 0x21 && b != 0x7F);
            default:
                return EndOfValue(b);
        }
    }

    /// <summary>After a chunk's size or an extension's value: the line's end, another extension, or space before one.</summary>
    private bool EndOfValue(byte b)
    {
        _state = b switch
        {
            (byte)'\r' => State.SizeLf,
            (byte)';' => State.ExtNameStart,
            (byte)' ' or (byte)'\t' => State.ExtBws,
            _ => _state,
        };
        return b is (byte)'\r' or (byte)';' or (byte)' ' or (byte)'\t';
    }

    private bool CountTrailer() => ++_trailerBytes <= MaxTrailers;

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
