namespace Prefork.Worker.Static;

public enum RangeKind { Whole, Partial, Unsatisfiable }

/// <summary>
/// What a Range header asks of a representation of a known size (RFC 9110 §14.1.2). Only a single range is
/// served; a header with several ranges gets the whole representation, which §14.2 allows (a server may
/// ignore Range), instead of a multipart/byteranges body. A header that does not parse is ignored the same way.
/// </summary>
public readonly record struct ByteRange(RangeKind Kind, long Start, long Length)
{
    public static readonly ByteRange Whole = new(RangeKind.Whole, 0, 0);

    /// <summary>The last byte's offset, for Content-Range.</summary>
    public long End => Start + Length - 1;

    public static ByteRange Parse(string? header, long size)
    {
        if (header == null || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase)) return Whole;
        // range-set = 1#range-spec: empty list elements are allowed and mean nothing (RFC 9110 §5.6.1).
        var specs = header[6..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (specs.Length != 1) return Whole;
        var spec = specs[0];
        int dash = spec.IndexOf('-');
        if (dash < 0) return Whole;

        if (dash == 0)
        {
            // suffix-range "-n": the last n bytes, all of them when the file is shorter.
            long n = Digits(spec.AsSpan(1));
            if (n < 0) return Whole;
            if (n == 0 || size == 0) return new(RangeKind.Unsatisfiable, 0, 0);
            long length = Math.Min(n, size);
            return new(RangeKind.Partial, size - length, length);
        }

        long first = Digits(spec.AsSpan(0, dash));
        long last = dash == spec.Length - 1 ? long.MaxValue : Digits(spec.AsSpan(dash + 1));
        if (first < 0 || last < 0 || last < first) return Whole;
        if (first >= size) return new(RangeKind.Unsatisfiable, 0, 0);
        last = Math.Min(last, size - 1);
        return new(RangeKind.Partial, first, last - first + 1);
    }

    /// <summary>1*DIGIT as a number; long.MaxValue when it is too large to hold (larger than any file); -1 when not digits.</summary>
    private static long Digits(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return -1;
        long value = 0;
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c)) return -1;
            if (value > (long.MaxValue - 9) / 10) value = long.MaxValue;
            else value = value * 10 + (c - '0');
        }
        return value;
    }
}
