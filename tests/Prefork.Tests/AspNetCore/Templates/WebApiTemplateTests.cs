using System.Text.Json;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// The minimal API template's app under the real master, two workers: JSON out of the template's own
/// endpoint, JSON in and out of one added to it, and RequestAborted reaching the app's code when the client
/// resets. Every answer must say `Server: Prefork`: an app that fell back to Kestrel would listen elsewhere.
/// </summary>
[Collection(BuildsFirst.TemplateBuilds)]
public sealed class WebApiTemplateTests(TemplateApps apps, ITestOutputHelper output)
{
    [Fact]
    public async Task The_templates_weatherforecast_answers_a_json_array()
    {
        await using var master = await AppUnderMaster.StartAsync(apps.WebApi, output);
        var response = await RawHttpConnection.RequestAsync(master.Port, "GET", "/weatherforecast");
        AssertJson(200, response);
        var forecast = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal(5, forecast.GetArrayLength());
        foreach (var day in forecast.EnumerateArray())
        {
            Assert.True(DateOnly.TryParse(day.GetProperty("date").GetString(), out _), day.ToString());
            Assert.Equal(32 + (int)(day.GetProperty("temperatureC").GetInt32() / 0.5556), day.GetProperty("temperatureF").GetInt32());
        }
    }

    [Fact]
    public async Task A_json_body_binds_to_a_record_and_the_answer_is_json_and_a_malformed_one_is_400()
    {
        await using var master = await AppUnderMaster.StartAsync(apps.WebApi, output);
        var response = await RawHttpConnection.RequestAsync(master.Port, "POST", "/orders", """{"item":"tea","quantity":3}""",
            "Content-Type: application/json");
        AssertJson(200, response);
        Assert.Equal("""{"item":"tea","quantity":3,"total":7.5}""", response.BodyText);

        var malformed = await RawHttpConnection.RequestAsync(master.Port, "POST", "/orders", """{"item":"tea","quan""",
            "Content-Type: application/json");
        Assert.Equal((400, "Prefork"), (malformed.Status, malformed.Header("Server")));
    }

    [Fact]
    public async Task RequestAborted_fires_in_the_apps_endpoint_when_the_client_resets()
    {
        await using var master = await AppUnderMaster.StartAsync(apps.WebApi, output);
        var tag = Guid.NewGuid().ToString("N");
        int mark = master.LineCount;
        var client = await RawHttpConnection.ConnectAsync(master.Port);
        await client.SendAsync($"GET /hang/{tag} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await master.WaitForLineAsync(l => l.Contains(WebApiApp.HangStarted(tag), StringComparison.Ordinal), AppUnderMaster.Bound, mark);
        client.Abort();
        await master.WaitForLineAsync(l => l.Contains(WebApiApp.HangCancelled(tag), StringComparison.Ordinal), AppUnderMaster.Bound, mark);
    }

    private static void AssertJson(int status, RawResponse response)
    {
        Assert.True(response.Status == status, response.ToString());
        Assert.Equal("Prefork", response.Header("Server"));
        Assert.Equal("application/json; charset=utf-8", response.Header("Content-Type"));
    }
}
