using System.Buffers.Text;
using System.Text;

namespace Prefork.App;

/// <summary>
/// A growable byte buffer, rented from the shared pool when the first byte is written and given back by
/// <see cref="Release"/> when its connection goes idle, so an idle keep-alive connection holds no buffer
/// (nginx frees its buffers between requests the same way). Cleared, not freed, between pipelined requests.
/// </summary>
internal sealed class OutputBuffer(int initialSize = 4096) : IDisposable
{
    private byte[] _buffer = [];

    public int Length { get; private set; }
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public void Clear() => Length = 0;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        // A response head is a dozen small writes: the common case must not leave this method.
        int length = Length;
        var buffer = _buffer;
        if ((uint)(length + bytes.Length) > (uint)buffer.Length) buffer = Grow(bytes.Length);
        bytes.CopyTo(buffer.AsSpan(length));
        Length = length + bytes.Length;
    }

    public void WriteUtf8(string text)
    {
        Length += Encoding.UTF8.GetBytes(text, GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length)));
    }

    public void WriteLatin1(string text)
    {
        var span = GetSpan(text.Length);
        // Header names and values are short: a plain loop beats the encoder's setup. The encoder still takes
        // anything past U+00FF, which it replaces its own way.
        if (text.Length <= 32)
        {
            int i = 0;
            for (; i < text.Length && text[i] <= '\u00FF'; i++) span[i] = (byte)text[i];
            if (i == text.Length)
            {
                Length += i;
                return;
            }
        }
        Length += Encoding.Latin1.GetBytes(text, span);
    }

    public void WriteNumber(long value)
    {
        if (value < 0)
        {
            Utf8Formatter.TryFormat(value, GetSpan(20), out int written);
            Length += written;
            return;
        }
        int digits = 1;
        for (long rest = value / 10; rest > 0; rest /= 10) digits++;
        var span = GetSpan(digits);
        for (int i = digits - 1; i >= 0; i--)
        {
            span[i] = (byte)('0' + value % 10);
            value /= 10;
        }
        Length += digits;
    }

    private Span<byte> GetSpan(int size)
    {
        var buffer = Length + size > _buffer.Length ? Grow(size) : _buffer;
        return buffer.AsSpan(Length);
    }

    private byte[] Grow(int size) =>
        _buffer = PooledArray.Grow(_buffer, Math.Max(Math.Max(_buffer.Length * 2, initialSize), Length + size), Length);

    /// <summary>Empties the buffer and gives its memory back to the pool; the next write rents again.</summary>
    public void Release()
    {
        PooledArray.Return(ref _buffer);
        Length = 0;
    }

    public void Dispose() => Release();
}
