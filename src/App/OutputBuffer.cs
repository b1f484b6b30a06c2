using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Prefork.Worker.Http;

/// <summary>A growable byte buffer rented from the shared pool; cleared, not freed, between requests.</summary>
public sealed class OutputBuffer : IDisposable
{
    private byte[] _buffer;

    public OutputBuffer(int initialSize = 4096) => _buffer = ArrayPool<byte>.Shared.Rent(initialSize);

    public int Length { get; private set; }
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public void Clear() => Length = 0;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Length += bytes.Length;
    }

    public void WriteUtf8(string text)
    {
        Length += Encoding.UTF8.GetBytes(text, GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length)));
    }

    public void WriteLatin1(string text)
    {
        Length += Encoding.Latin1.GetBytes(text, GetSpan(text.Length));
    }

    public void WriteNumber(long value)
    {
        Utf8Formatter.TryFormat(value, GetSpan(20), out int written);
        Length += written;
    }

    private Span<byte> GetSpan(int size)
    {
        if (Length + size > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + size));
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        return _buffer.AsSpan(Length);
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        Length = 0;
    }
}
