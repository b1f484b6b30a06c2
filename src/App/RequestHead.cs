namespace Prefork.App;

/// <summary>A span of bytes in <see cref="RequestHead.Bytes"/>.</summary>
internal readonly record struct Segment(int Start, int Length);

/// <summary>
/// What the parser found in a request head: offsets into the head's bytes, plus the framing facts the
/// connection needs. One instance per connection, reset for each request, so parsing allocates nothing.
/// </summary>
internal sealed class RequestHead
{
    // Rented from the shared pool as a head needs them, and given back by Release.
    private Segment[] _names = [];
    private Segment[] _values = [];

    /// <summary>The head's bytes; the parser reads from the connection's buffer, the connection copies them here.</summary>
    public byte[] Bytes => _bytes;
    private byte[] _bytes = [];
    public int Length { get; private set; }

    public Method Method { get; set; }
    public Segment MethodText { get; set; }
    public Segment Target { get; set; }
    public Segment Path { get; set; }
    public Segment Query { get; set; }
    /// <summary>An absolute-form target's authority ("host:port"); empty for any other form.</summary>
    public Segment Authority { get; set; }
    /// <summary>1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public int VersionMinor { get; set; }
    public int HeaderCount { get; private set; }

    /// <summary>-1 when there is no Content-Length.</summary>
    public long ContentLength { get; set; } = -1;
    public bool Chunked { get; set; }
    public bool HasHost { get; set; }
    public bool ConnectionClose { get; set; }
    public bool ConnectionKeepAlive { get; set; }
    public bool ExpectContinue { get; set; }
    public bool ConnectionUpgrade { get; set; }
    public bool HasUpgrade { get; set; }

    public bool HasBody => Chunked || ContentLength > 0;

    /// <summary>
    /// RFC 9110 §7.8: a request may switch protocols when it names the protocol (Upgrade) and marks the field as
    /// hop-by-hop (Connection: upgrade); never in HTTP/1.0. One with a body is served as HTTP (as Kestrel refuses
    /// to upgrade it): the new protocol's bytes would start at a place the two sides might disagree on.
    /// </summary>
    public bool IsUpgrade => VersionMinor == 1 && ConnectionUpgrade && HasUpgrade && !HasBody;

    public void Reset()
    {
        Method = Method.Other;
        MethodText = Target = Path = Query = Authority = default;
        VersionMinor = 1;
        HeaderCount = 0;
        ContentLength = -1;
        Chunked = HasHost = ConnectionClose = ConnectionKeepAlive = ExpectContinue = ConnectionUpgrade = HasUpgrade = false;
    }

    public void AddHeader(Segment name, Segment value)
    {
        if (HeaderCount == _names.Length)
        {
            _names = PooledArray.Grow(_names, Math.Max(16, _names.Length * 2), HeaderCount);
            _values = PooledArray.Grow(_values, Math.Max(16, _values.Length * 2), HeaderCount);
        }
        _names[HeaderCount] = name;
        _values[HeaderCount] = value;
        HeaderCount++;
    }

    /// <summary>Keeps a copy of the parsed head, so the connection may reuse its read buffer while the request runs.</summary>
    public void CopyFrom(ReadOnlySpan<byte> head)
    {
        if (_bytes.Length < head.Length) _bytes = PooledArray.Grow(_bytes, Math.Max(head.Length, 512), 0);
        head.CopyTo(Bytes);
        Length = head.Length;
    }

    /// <summary>Gives the arrays back to the pool between requests: an idle keep-alive connection keeps no head.</summary>
    public void Release()
    {
        Reset();
        PooledArray.Return(ref _names);
        PooledArray.Return(ref _values);
        PooledArray.Return(ref _bytes);
        Length = 0;
    }

    public ReadOnlySpan<byte> this[Segment segment] => Bytes.AsSpan(segment.Start, segment.Length);
    public ReadOnlySpan<byte> HeaderName(int index) => this[_names[index]];
    public ReadOnlySpan<byte> HeaderValue(int index) => this[_values[index]];
}
