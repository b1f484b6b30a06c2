using System.Text;

namespace Prefork.Tests.AspNetCore;

/// <summary>
/// Apps made at test time from the SDK's own templates, as a user would: `dotnet new`, a few files written over
/// or beside the generated ones, `dotnet build`. Offline: the templates and the ASP.NET Core framework ship with
/// the SDK. The apps of one fixture are built together, in one build of a solution holding them all: one
/// MSBuild and one restore instead of one per app (the build is what these fixtures cost).
/// </summary>
public static class TemplateApp
{
    /// <summary>
    /// Creates ROOT/NAME from <paramref name="template"/> (its name and options) and lets <paramref name="edit"/>
    /// change the generated project, given its folder.
    /// </summary>
    public static async Task NewAsync(string root, string name, string[] template, Action<string>? edit = null)
    {
        var dir = Path.Combine(root, name);
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(2), ["new", .. template, "-o", dir, "-n", name, "--no-restore", "--no-update-check"]);
        edit?.Invoke(dir);
    }

    /// <summary>Builds the apps made under ROOT by <see cref="NewAsync"/>, in Release, together; returns their assemblies, in order.</summary>
    public static async Task<string[]> BuildAsync(string root, params string[] names)
    {
        var solution = new StringBuilder("<Solution>\n");
        foreach (var name in names) solution.Append($"  <Project Path=\"{name}/{name}.csproj\" />\n");
        var path = Path.Combine(root, "apps.slnx");
        await File.WriteAllTextAsync(path, solution.Append("</Solution>\n").ToString());
        // Half a minute on two idle cores; four minutes seen on two cores shared with other builds.
        await DotnetCli.RunAsync(TimeSpan.FromMinutes(10), "build", path, "-c", "Release", "--nologo", "-v", "quiet");
        // NAME/bin/Release/<the SDK's target framework>/NAME.dll
        return names.Select(name => Directory.GetFiles(Path.Combine(root, name, "bin", "Release"), name + ".dll", SearchOption.AllDirectories).Single()).ToArray();
    }

    /// <summary>Adds <paramref name="endpoints"/> to the generated Program.cs just before it runs the app, and <paramref name="types"/> at its end.</summary>
    public static void AddToProgram(string dir, string endpoints, string types = "")
    {
        var path = Path.Combine(dir, "Program.cs");
        var program = File.ReadAllText(path);
        const string run = "app.Run();";
        int at = program.LastIndexOf(run, StringComparison.Ordinal);
        if (at < 0) throw new InvalidOperationException($"the template's Program.cs no longer runs the app with {run}:\n{program}");
        File.WriteAllText(path, program[..at] + endpoints + "\n" + program[at..] + "\n" + types);
    }

    /// <summary>Writes <paramref name="text"/> to a file of the project, by its path inside it.</summary>
    public static void Write(string dir, string path, string text) => File.WriteAllText(Path.Combine(dir, path), text);
}
