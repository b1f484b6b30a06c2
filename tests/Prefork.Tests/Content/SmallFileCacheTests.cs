using System.Text;
using Prefork.Worker.Static;

namespace Prefork.Tests.Content;

/// <summary>
/// Small files answered from memory: kept once read, read again whenever the file on disk is another version of
/// it (even one with the same size and mtime), bounded, and never kept while it may still be being written.
/// </summary>
public sealed class SmallFileCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("prefork-cache-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }

    // Kept at once: the tests change files faster than any settle time would allow.
    private static SmallFileCache Eager(int maxFileSize = 1024, long capacity = 1 << 20) => new(maxFileSize, capacity, TimeSpan.Zero);

    [Fact]
    public async Task A_small_file_is_kept_and_served_from_memory()
    {
        Write("a.txt", "first version\n");
        var cache = Eager();
        var files = new StaticFiles(_root, cache: cache);
        Assert.Equal("first version\n", (await DirectCall.RunAsync(files, "GET", "/a.txt")).Text);
        Assert.Equal(14, cache.Held);
        var again = await DirectCall.RunAsync(files, "GET", "/a.txt");
        Assert.Equal((200, "first version\n", "text/plain; charset=utf-8"), (again.Status, again.Text, again.Header("Content-Type")));
    }

    [Fact]
    public async Task A_file_replaced_by_one_of_the_same_size_and_mtime_is_served_fresh()
    {
        var modified = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var path = Write("a.txt", "version one\n");
        File.SetLastWriteTimeUtc(path, modified);
        var cache = Eager();
        var files = new StaticFiles(_root, cache: cache);
        var first = await DirectCall.RunAsync(files, "GET", "/a.txt");
        Assert.Equal("version one\n", first.Text);

        // As `cp -p` or rsync deliver a file: another inode, the same length and modification time (so the same ETag).
        var next = Write("a.txt.new", "version two\n");
        File.SetLastWriteTimeUtc(next, modified);
        File.Move(next, path, overwrite: true);

        var second = await DirectCall.RunAsync(files, "GET", "/a.txt");
        Assert.Equal(("version two\n", first.Header("ETag")), (second.Text, second.Header("ETag")));
        Assert.Equal(12, cache.Held);
    }

    [Fact]
    public async Task A_file_rewritten_in_place_is_served_fresh()
    {
        var path = Write("a.txt", "short\n");
        var files = new StaticFiles(_root, cache: Eager());
        Assert.Equal("short\n", (await DirectCall.RunAsync(files, "GET", "/a.txt")).Text);
        File.WriteAllText(path, "a longer second version\n");
        Assert.Equal("a longer second version\n", (await DirectCall.RunAsync(files, "GET", "/a.txt")).Text);
    }

    [Fact]
    public async Task A_file_written_a_moment_ago_is_served_but_not_kept()
    {
        Write("a.txt", "still being written?\n");
        var cache = new SmallFileCache(1024, 1 << 20, TimeSpan.FromMinutes(5));
        var files = new StaticFiles(_root, cache: cache);
        Assert.Equal("still being written?\n", (await DirectCall.RunAsync(files, "GET", "/a.txt")).Text);
        Assert.Equal(0, cache.Held);
    }

    [Fact]
    public async Task Large_files_and_files_past_the_capacity_stay_on_disk()
    {
        Write("big.txt", new string('b', 100));
        Write("one.txt", "12345678");
        Write("two.txt", "abcdefgh");
        var cache = Eager(maxFileSize: 64, capacity: 10);
        var files = new StaticFiles(_root, cache: cache);
        Assert.Equal(new string('b', 100), (await DirectCall.RunAsync(files, "GET", "/big.txt")).Text);
        Assert.Equal(0, cache.Held);
        Assert.Equal("12345678", (await DirectCall.RunAsync(files, "GET", "/one.txt")).Text);
        Assert.Equal("abcdefgh", (await DirectCall.RunAsync(files, "GET", "/two.txt")).Text);
        Assert.Equal(8, cache.Held);
    }

    [Fact]
    public async Task Ranges_and_validators_hold_for_a_file_in_memory()
    {
        Write("digits.txt", ContentTree.Digits);
        var files = new StaticFiles(_root, cache: Eager());
        var whole = await DirectCall.RunAsync(files, "GET", "/digits.txt");
        var part = await DirectCall.RunAsync(files, "GET", "/digits.txt", "Range: bytes=2-5");
        Assert.Equal((206, "2345", "bytes 2-5/20"), (part.Status, part.Text, part.Header("Content-Range")));
        var notModified = await DirectCall.RunAsync(files, "GET", "/digits.txt", $"If-None-Match: {whole.Header("ETag")}");
        Assert.Equal((304, ""), (notModified.Status, notModified.Text));
        var head = await DirectCall.RunAsync(files, "HEAD", "/digits.txt");
        Assert.Equal((200, "20", whole.Header("ETag")), (head.Status, head.Header("Content-Length"), head.Header("ETag")));
        Assert.Equal(Encoding.ASCII.GetBytes(ContentTree.Digits).Length, int.Parse(whole.Header("Content-Length")!));
    }
}
