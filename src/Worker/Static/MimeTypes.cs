using System.Collections.Frozen;

namespace Prefork.Worker.Static;

/// <summary>Content-Type by file extension; what nginx's mime.types says for the formats the web uses today.</summary>
public static class MimeTypes
{
    public const string Default = "application/octet-stream";

    private static readonly FrozenDictionary<string, string> ByExtension = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        // Text: browsers guess the charset of text/* unless told (RFC 6657 leaves no default), so it is stated.
        [".html"] = "text/html; charset=utf-8",
        [".htm"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".mjs"] = "text/javascript; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
        [".csv"] = "text/csv; charset=utf-8",
        [".md"] = "text/markdown; charset=utf-8",
        [".xml"] = "text/xml; charset=utf-8",
        [".ics"] = "text/calendar; charset=utf-8",
        [".vtt"] = "text/vtt; charset=utf-8",
        // Structured data.
        [".json"] = "application/json",
        [".map"] = "application/json",
        [".jsonld"] = "application/ld+json",
        [".webmanifest"] = "application/manifest+json",
        [".rss"] = "application/rss+xml",
        [".atom"] = "application/atom+xml",
        [".wasm"] = "application/wasm",
        [".pdf"] = "application/pdf",
        // Images.
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg",
        [".gif"] = "image/gif",
        [".webp"] = "image/webp",
        [".avif"] = "image/avif",
        [".ico"] = "image/x-icon",
        [".bmp"] = "image/bmp",
        [".tif"] = "image/tiff",
        [".tiff"] = "image/tiff",
        // Fonts.
        [".woff"] = "font/woff",
        [".woff2"] = "font/woff2",
        [".ttf"] = "font/ttf",
        [".otf"] = "font/otf",
        // Audio and video.
        [".mp4"] = "video/mp4",
        [".m4v"] = "video/mp4",
        [".webm"] = "video/webm",
        [".ogv"] = "video/ogg",
        [".mov"] = "video/quicktime",
        [".mp3"] = "audio/mpeg",
        [".m4a"] = "audio/mp4",
        [".ogg"] = "audio/ogg",
        [".oga"] = "audio/ogg",
        [".opus"] = "audio/ogg",
        [".wav"] = "audio/wav",
        [".flac"] = "audio/flac",
        // Archives.
        [".zip"] = "application/zip",
        [".gz"] = "application/gzip",
        [".tgz"] = "application/gzip",
        [".tar"] = "application/x-tar",
        [".bz2"] = "application/x-bzip2",
        [".xz"] = "application/x-xz",
        [".zst"] = "application/zstd",
        [".7z"] = "application/x-7z-compressed",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    public static string For(string path) => ByExtension.GetValueOrDefault(Path.GetExtension(path), Default);
}
