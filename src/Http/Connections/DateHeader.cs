using System.Text;

namespace Prefork.Http;

/// <summary>
/// The "Date: ...\r\n" line (RFC 9110 §6.6.1), encoded once a second instead of once a response.
/// The host's tick on the event loop calls <see cref="Refresh"/> once a second; readers take whichever array is current.
/// </summary>
public static class DateHeader
{
    private static byte[] _current = Encode(DateTimeOffset.UtcNow);

    public static byte[] Current => Volatile.Read(ref _current);

    public static void Refresh() => Volatile.Write(ref _current, Encode(DateTimeOffset.UtcNow));

    private static byte[] Encode(DateTimeOffset now) => Encoding.ASCII.GetBytes($"Date: {now:R}\r\n");
}
