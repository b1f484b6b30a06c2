namespace Prefork.AspNetCore;

/// <summary>
/// RFC 3986 §5.2.4 remove_dot_segments, on a decoded absolute path: "/a/./b/../c" is "/a/c". Kestrel hands
/// the app the path so resolved, and routing and static files match on it; a ".." never climbs above "/".
/// </summary>
internal static class DotSegments
{
    public static string Remove(string path)
    {
        if (!path.Contains("/.", StringComparison.Ordinal)) return path;
        var segments = path.Split('/');
        var kept = new List<string>(segments.Length);
        bool endsAsDirectory = false;
        // segments[0] is the empty text before the leading "/".
        for (int i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            bool isDot = segment == ".", isDotDot = segment == "..";
            if (isDotDot && kept.Count > 0) kept.RemoveAt(kept.Count - 1);
            if (!isDot && !isDotDot) kept.Add(segment);
            // "/a/b/.." is "/a/": a final dot segment names the directory it leaves the path in.
            endsAsDirectory = i == segments.Length - 1 && (isDot || isDotDot);
        }
        var resolved = "/" + string.Join('/', kept);
        return endsAsDirectory && kept.Count > 0 ? resolved + "/" : resolved;
    }
}
