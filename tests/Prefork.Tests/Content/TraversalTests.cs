using Prefork.Worker.Static;

namespace Prefork.Tests.Content;

/// <summary>Hostile paths: each gets 403 or 404 (or 400 for a broken encoding), never a byte from outside the root.</summary>
public sealed class TraversalTests : IClassFixture<ContentTree>
{
    private readonly ContentTree _tree;

    public TraversalTests(ContentTree tree) => _tree = tree;

    public static TheoryData<string, int> Hostile => new()
    {
        { "/../outside/secret.txt", 403 },
        { "/docs/../../outside/secret.txt", 403 },
        { "/docs/../digits.txt", 403 },               // any "..", even one that would stay inside
        { "/%2e%2e/outside/secret.txt", 403 },
        { "/%2E%2E/outside/secret.txt", 403 },
        { "/.%2e/outside/secret.txt", 403 },
        { "/docs/%2e%2e/%2e%2e/outside/secret.txt", 403 },
        { "/..%2foutside%2fsecret.txt", 403 },
        { "/%2e%2e%2foutside%2fsecret.txt", 403 },
        { "/docs%2f..%2f..%2foutside/secret.txt", 403 },
        { "/..%5coutside%5csecret.txt", 403 },
        { "/..\\outside\\secret.txt", 403 },
        { "/docs\\index.html", 403 },
        { "/digits.txt%00.html", 403 },
        { "/%00", 403 },
        { "/%252e%252e/outside/secret.txt", 404 },  // decoded once: a file literally named "%2e%2e" does not exist
        { "//etc/passwd", 404 },                      // an absolute path is still a path under the root
        { "/etc/passwd", 404 },
        { "/leak.txt", 403 },                         // symlink inside the root to a file outside
        { "/leakdir/secret.txt", 403 },               // symlink inside the root to a directory outside
        { "/leakdir/", 403 },
        { "/sibling.txt", 403 },                      // outside, though its path starts with the root's
        { "/climb.txt", 403 },                        // relative symlink climbing out of the root
        { "/pipe", 404 },                             // a FIFO is not content
        { "/docs/%zz", 400 },
        { "/docs/%e", 400 },
        { "/%ff%fe.txt", 400 },                       // not UTF-8
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Refused_directly(string target, int status)
    {
        // On a pool thread, bounded: a lookup that blocks (opening the FIFO without O_NONBLOCK) fails instead of hanging the run.
        var response = await Task.Run(() => DirectCall.RunAsync(new StaticFiles(_tree.Root), "GET", target)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(status, response.Status);
        Assert.DoesNotContain(ContentTree.Secret, response.Text);
    }

    public static TheoryData<string, string> Allowed => new()
    {
        { "/alias.txt", ContentTree.Digits },         // symlink inside pointing inside
        { "/absolute-alias.txt", ContentTree.Digits }, // absolute symlink pointing inside
        { "/docs-link/", "<h1>docs</h1>\n" },          // directory symlink inside pointing inside
        { "/docs/a%20b.txt", "spaced\n" },
        { "/docs/%C3%A9.txt", "accent\n" },
        { "/./digits.txt", ContentTree.Digits },
        { "//digits.txt", ContentTree.Digits },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public async Task Inside_the_root_is_served(string target, string body)
    {
        var response = await DirectCall.RunAsync(new StaticFiles(_tree.Root), "GET", target);
        Assert.Equal((200, body), (response.Status, response.Text));
    }

    /// <summary>The same table through the real server, over a raw socket so nothing normalises the paths on the way.</summary>
    [Fact]
    public async Task Refused_by_the_real_server()
    {
        await using var server = await ContentServer.StartAsync(1, "--root", _tree.Root);
        foreach (var row in Hostile)
        {
            var (target, status) = ((string)row[0], (int)row[1]);
            var response = await server.SendAsync("GET", target);
            // The real server hands what the root does not have to the demo app, whose answer is 404 too.
            Assert.True(response.Status == status, $"{target}: {response.Status}, expected {status}");
            Assert.DoesNotContain(ContentTree.Secret, response.Text);
        }
        Assert.Equal(ContentTree.Digits, (await server.SendAsync("GET", "/alias.txt")).Text);
    }
}
