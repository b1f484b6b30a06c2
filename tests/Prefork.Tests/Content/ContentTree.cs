namespace Prefork.Tests.Content;

/// <summary>
/// A throwaway site in the temp directory: a root with files, a directory, a FIFO and symlinks (some staying
/// inside, some leading out), next to a secret the server must never hand out.
/// </summary>
public sealed class ContentTree : IDisposable
{
    public const string Secret = "TOP-SECRET-OUTSIDE-THE-ROOT";
    public const string Digits = "0123456789abcdefghij";

    public ContentTree()
    {
        Base = Directory.CreateTempSubdirectory("prefork-content-").FullName;
        Root = Path.Combine(Base, "www");
        Directory.CreateDirectory(Path.Combine(Root, "docs"));
        Directory.CreateDirectory(Path.Combine(Root, "empty"));
        Directory.CreateDirectory(Path.Combine(Base, "outside"));
        File.WriteAllText(Path.Combine(Root, "index.html"), "<h1>home</h1>\n");
        File.WriteAllText(Path.Combine(Root, "digits.txt"), Digits);
        File.WriteAllText(Path.Combine(Root, "site.css"), "body { color: black }\n");
        File.WriteAllText(Path.Combine(Root, "docs", "index.html"), "<h1>docs</h1>\n");
        File.WriteAllText(Path.Combine(Root, "docs", "a b.txt"), "spaced\n");
        File.WriteAllText(Path.Combine(Root, "docs", "é.txt"), "accent\n");
        File.WriteAllText(Path.Combine(Base, "outside", "secret.txt"), Secret);
        File.WriteAllText(Path.Combine(Base, "www-secret.txt"), Secret);
        File.CreateSymbolicLink(Path.Combine(Root, "leak.txt"), Path.Combine(Base, "outside", "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(Root, "leakdir"), Path.Combine(Base, "outside"));
        // A sibling whose name starts with the root's: "/tmp/x/www-secret.txt" must not count as inside "/tmp/x/www".
        File.CreateSymbolicLink(Path.Combine(Root, "sibling.txt"), Path.Combine(Base, "www-secret.txt"));
        // Relative, but climbing out: the kernel's RESOLVE_BENEATH refuses it, and so must the slow way after it.
        File.CreateSymbolicLink(Path.Combine(Root, "climb.txt"), "../outside/secret.txt");
        File.CreateSymbolicLink(Path.Combine(Root, "alias.txt"), "digits.txt");
        // Absolute, but inside: RESOLVE_BENEATH refuses every absolute target; the slow way (realpath) allows this one.
        File.CreateSymbolicLink(Path.Combine(Root, "absolute-alias.txt"), Path.Combine(Root, "digits.txt"));
        File.CreateSymbolicLink(Path.Combine(Root, "docs-link"), "docs");
        // Not content, and opening it to read would wait for a writer that never comes.
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(Root, "pipe"));
        mkfifo.WaitForExit();
        if (mkfifo.ExitCode != 0) throw new InvalidOperationException("mkfifo failed");
    }

    public string Base { get; }
    public string Root { get; }

    public void Dispose() => Directory.Delete(Base, recursive: true);
}
