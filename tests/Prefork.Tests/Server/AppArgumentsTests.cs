using Prefork.Master;

namespace Prefork.Tests.Server;

/// <summary>An app that is its own master: one command line, split into the master's flags and the app's arguments.</summary>
public sealed class AppArgumentsTests
{
    [Theory]
    [InlineData("--workers 4 --environment Production", "--workers 4", "--environment Production")]
    [InlineData("-w 2 --urls http://x:1 --bind 127.0.0.1:0", "-w 2 --bind 127.0.0.1:0", "--urls http://x:1")]
    [InlineData("--workers=2 --reuse-port key=value --max-requests 9", "--workers=2 --reuse-port --max-requests 9", "key=value")]
    [InlineData("--workers 2 -- --workers 3 --help", "--workers 2", "--workers 3 --help")]
    [InlineData("--help --environment Production", "--help", "--environment Production")]
    [InlineData("--access-log - --verbose", "--access-log -", "--verbose")]
    // A master flag lacking its value stays the master's, whose check then names it.
    [InlineData("--environment Production --workers", "--workers", "--environment Production")]
    [InlineData("", "", "")]
    public void Master_flags_are_the_masters_and_the_rest_the_apps(string args, string master, string app)
    {
        var (m, a) = CommandLineCheck.SplitOffAppArguments(Words(args));
        Assert.Equal(Words(master), m);
        Assert.Equal(Words(app), a);
    }

    private static string[] Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
