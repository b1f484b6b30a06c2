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

    [Theory]
    [InlineData("--workers 4 --bind 0.0.0.0:80", "--workers 2", "--bind 0.0.0.0:80 --workers 2")]
    // The same flag by its other name, or with its value attached.
    [InlineData("-w 4 --max-requests 9", "--workers=2", "--max-requests 9 --workers=2")]
    [InlineData("--workers=4", "-w 2", "-w 2")]
    // A list flag given replaces the defaults' list instead of adding to it.
    [InlineData("--bind 127.0.0.1:1 --bind [::1]:1 --reuse-port", "--bind 127.0.0.1:0", "--reuse-port --bind 127.0.0.1:0")]
    [InlineData("--reuse-port --workers 3", "", "--reuse-port --workers 3")]
    [InlineData("", "--workers 2", "--workers 2")]
    public void The_apps_defaults_give_way_to_the_command_line_flag_by_flag(string defaults, string given, string merged) =>
        Assert.Equal(Words(merged), CommandLineCheck.UnderDefaults(Words(defaults), Words(given)));

    [Theory]
    [InlineData("--workers none")]
    [InlineData("--environment Production")]
    public async Task A_bad_default_in_the_apps_code_is_refused_before_anything_starts(string defaults) =>
        Assert.Equal(2, await MasterProgram.RunSelfAsync([], "app", Words(defaults)));

    private static string[] Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
