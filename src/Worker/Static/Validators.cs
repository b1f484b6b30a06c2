using System.Globalization;

namespace Prefork.Worker.Static;

/// <summary>
/// A file's validators — a strong ETag and Last-Modified — and the conditional requests that use them
/// (RFC 9110 §8.8, §13.1).
/// </summary>
public sealed class Validators
{
    // RFC 9110 §5.6.7: IMF-fixdate is what we send; recipients must also accept the two obsolete forms.
    private static readonly string[] DateFormats =
    [
        "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
        "dddd, dd'-'MMM'-'yy HH':'mm':'ss 'GMT'",
        "ddd MMM d HH':'mm':'ss yyyy",
    ];

    /// <param name="size">The file's length.</param>
    /// <param name="modified">Its last write time (UTC).</param>
    public Validators(long size, DateTime modified)
    {
        // Size and modification time to the tick: a file rewritten in place changes one or the other. There is no
        // inode in .NET's file API, so a file replaced by another of the same size and mtime keeps its tag (as in nginx).
        ETag = $"\"{size:x}-{modified.Ticks:x}\"";
        // HTTP dates have whole seconds; comparisons use the truncated time so a date we sent compares equal.
        LastModified = new DateTime(modified.Ticks - modified.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        LastModifiedText = LastModified.ToString("r", CultureInfo.InvariantCulture);
    }

    public string ETag { get; }
    public DateTime LastModified { get; }
    public string LastModifiedText { get; }

    /// <summary>RFC 9110 §13.2.2 steps 1-2: true when the request must get 412 Precondition Failed.</summary>
    public bool PreconditionFailed(string? ifMatch, string? ifUnmodifiedSince)
    {
        // §13.1.1: If-Match uses strong comparison, and "*" holds for any file there is; when present,
        // If-Unmodified-Since is ignored (§13.1.4), as is a date that does not parse.
        if (ifMatch != null) return !(ifMatch.Trim() == "*" || AnyTagMatches(ifMatch, weakly: false));
        return ifUnmodifiedSince != null && TryParseDate(ifUnmodifiedSince, out var since) && LastModified > since;
    }

    /// <summary>RFC 9110 §13.2.2 steps 3-4: true when a GET or HEAD should get 304.</summary>
    public bool NotModified(string? ifNoneMatch, string? ifModifiedSince)
    {
        // §13.1.2: If-None-Match uses weak comparison; when present, If-Modified-Since is ignored (§13.1.3).
        if (ifNoneMatch != null) return ifNoneMatch.Trim() == "*" || AnyTagMatches(ifNoneMatch, weakly: true);
        return ifModifiedSince != null && TryParseDate(ifModifiedSince, out var since) && LastModified <= since;
    }

    /// <summary>RFC 9110 §13.1.5: If-Range holds when its ETag matches strongly, or its date equals Last-Modified.</summary>
    public bool RangeStillValid(string? ifRange)
    {
        if (ifRange == null) return true;
        var value = ifRange.Trim();
        if (value.StartsWith('"') || value.StartsWith("W/", StringComparison.Ordinal)) return value == ETag;
        return TryParseDate(value, out var date) && date == LastModified;
    }

    /// <summary>
    /// Walks a list of entity-tags (#entity-tag, where a tag may itself hold a comma). Our tag is strong, so the weak
    /// comparison ignores a W/ and the strong one never matches a tag that has it (§8.8.3.2).
    /// </summary>
    private bool AnyTagMatches(string list, bool weakly)
    {
        int i = 0;
        while (i < list.Length)
        {
            if (list[i] is ' ' or '\t' or ',')
            {
                i++;
                continue;
            }
            bool weak = string.CompareOrdinal(list, i, "W/", 0, 2) == 0;
            if (weak) i += 2;
            if (i >= list.Length || list[i] != '"') return false;
            int close = list.IndexOf('"', i + 1);
            if (close < 0) return false;
            if ((weakly || !weak) && list.AsSpan(i, close + 1 - i).SequenceEqual(ETag)) return true;
            i = close + 1;
        }
        return false;
    }

    private static bool TryParseDate(string text, out DateTime date) =>
        DateTime.TryParseExact(text.Trim(), DateFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowInnerWhite, out date);
}
