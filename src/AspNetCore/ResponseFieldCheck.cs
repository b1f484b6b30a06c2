using System.Buffers;
using Microsoft.Extensions.Primitives;

namespace Prefork.AspNetCore;

/// <summary>
/// The response fields Kestrel refuses, refused here before anything is sent. An app may copy a request's text
/// into a field (a redirect's Location, a file name): a CR or LF in it would end the field and start fields, or
/// a body, the app never wrote (response splitting). Kestrel throws when such a value is set; here the fields are
/// a plain dictionary until the response starts, so the check runs then, and the app's exception is a 500 as there.
/// </summary>
internal static class ResponseFieldCheck
{
    // tchar, RFC 9110 §5.6.2.
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    // Visible ASCII, space and tab: RFC 9110 §5.5 allows obs-text too, but Kestrel does not by default, and the
    // engine writes Latin-1, which cannot carry the rest of a .NET string.
    private static readonly SearchValues<char> ValueChars = SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    public static void Check(string name, StringValues values)
    {
        if (name.Length == 0 || name.AsSpan().ContainsAnyExcept(TokenChars))
        {
            throw new InvalidOperationException($"Invalid response header name: \"{Printable(name)}\"");
        }
        foreach (var value in values)
        {
            int bad = value.AsSpan().IndexOfAnyExcept(ValueChars);
            if (bad >= 0) throw new InvalidOperationException($"Invalid non-ASCII or control character in header {name}: 0x{(int)value![bad]:X4}");
        }
    }

    private static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));
}
