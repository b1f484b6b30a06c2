using System.Text.RegularExpressions;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// The Razor Pages template's app under the real master, two workers: a form posted back with the
/// antiforgery token and cookie its GET handed out is accepted, by either worker; one without them is a 400.
/// Each worker is its own process, so a token one issued validates on the other only if both read the same
/// Data Protection key ring: by default the files under $HOME/.aspnet/DataProtection-Keys.
/// </summary>
[Collection(BuildsFirst.TemplateBuilds)]
public sealed partial class RazorPagesTemplateTests(TemplateApps apps, ITestOutputHelper output) : IDisposable
{
    // Each test on a machine the app has never run on: no key yet, and both workers start at once. Nor does
    // the test leave a key in the real $HOME.
    private readonly string _home = Directory.CreateTempSubdirectory("prefork-home-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private Task<MasterProcess> StartAsync() =>
        AppUnderMaster.StartAsync(apps.RazorPages, output, new Dictionary<string, string> { ["HOME"] = _home });

    [Fact]
    public async Task A_form_posted_with_its_token_is_accepted_by_the_worker_that_did_not_issue_it()
    {
        await using var master = await StartAsync();
        var form = await GetFormAsync(master.Port);
        Assert.Contains(form.Pid, master.WorkerPids);
        var deadline = DateTime.UtcNow + AppUnderMaster.Bound;
        for (int i = 0; ; i++)
        {
            var posted = await PostAsync(master.Port, $"Message=posted-{i}&__RequestVerificationToken={Uri.EscapeDataString(form.Token)}", form.Cookie);
            Assert.True(posted.Status == 200, $"post {i}: {posted}");
            Assert.Contains($"You said: posted-{i}", posted.BodyText);
            if (Pid(posted) != form.Pid) break;
            Assert.True(DateTime.UtcNow < deadline, $"every post was answered by pid {form.Pid}, the worker that issued the token");
        }
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_home, ".aspnet", "DataProtection-Keys"), "key-*.xml"));
    }

    [Fact]
    public async Task A_form_posted_without_its_token_or_without_its_cookie_is_400()
    {
        await using var master = await StartAsync();
        var form = await GetFormAsync(master.Port);
        var noToken = await PostAsync(master.Port, "Message=forged", form.Cookie);
        Assert.True(noToken.Status == 400, noToken.ToString());
        var noCookie = await PostAsync(master.Port, $"Message=forged&__RequestVerificationToken={Uri.EscapeDataString(form.Token)}", cookie: null);
        Assert.True(noCookie.Status == 400, noCookie.ToString());
    }

    private sealed record Form(string Token, string Cookie, int Pid);

    private static async Task<Form> GetFormAsync(int port)
    {
        var page = await RawHttpConnection.RequestAsync(port, "GET", "/Echo");
        Assert.True(page.Status == 200, page.ToString());
        Assert.Equal("Prefork", page.Header("Server"));
        var token = TokenRegex().Match(page.BodyText);
        Assert.True(token.Success, $"no antiforgery field in the form:\n{page.BodyText}");
        var cookie = page.Headers.Where(h => h.Key.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase))
            .Select(h => h.Value.Split(';')[0]).SingleOrDefault(c => c.StartsWith(".AspNetCore.Antiforgery.", StringComparison.Ordinal));
        Assert.True(cookie != null, $"no antiforgery cookie: {page}");
        return new Form(token.Groups["value"].Value, cookie, Pid(page));
    }

    private static Task<RawResponse> PostAsync(int port, string form, string? cookie) =>
        RawHttpConnection.RequestAsync(port, "POST", "/Echo", form,
            ["Content-Type: application/x-www-form-urlencoded", .. cookie == null ? Array.Empty<string>() : [$"Cookie: {cookie}"]]);

    private static int Pid(RawResponse page) => int.Parse(PidRegex().Match(page.BodyText).Groups["pid"].Value);

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"(?<value>[^\"]+)\"")]
    private static partial Regex TokenRegex();

    [GeneratedRegex("""<p id="pid">(?<pid>\d+)</p>""")]
    private static partial Regex PidRegex();
}
