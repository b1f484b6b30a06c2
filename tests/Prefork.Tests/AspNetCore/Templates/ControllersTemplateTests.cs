using System.Text.Json;
using Prefork.Tests.Server;
using Xunit.Abstractions;

namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// The controllers flavour of the webapi template under the real master, two workers: the template's
/// controller answering JSON, and an [ApiController] action's model binding, whose bad bodies are 400s with
/// the problem details MVC writes.
/// </summary>
[Collection(BuildsFirst.TemplateBuilds)]
public sealed class ControllersTemplateTests(TemplateApps apps, ITestOutputHelper output)
{
    [Fact]
    public async Task The_templates_controller_answers_a_json_array()
    {
        await using var master = await AppUnderMaster.StartAsync(apps.Controllers, output);
        var response = await RawHttpConnection.RequestAsync(master.Port, "GET", "/WeatherForecast");
        Assert.True(response.Status == 200, response.ToString());
        Assert.Equal("Prefork", response.Header("Server"));
        Assert.Equal("application/json; charset=utf-8", response.Header("Content-Type"));
        var forecast = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal(5, forecast.GetArrayLength());
        Assert.All(forecast.EnumerateArray(), day => Assert.True(day.TryGetProperty("summary", out _), day.ToString()));
    }

    [Fact]
    public async Task An_action_binds_a_json_body_and_refuses_a_bad_one_with_400_problem_details()
    {
        await using var master = await AppUnderMaster.StartAsync(apps.Controllers, output);
        var ok = await PostOrderAsync(master.Port, """{"item":"tea","quantity":3}""");
        Assert.True(ok.Status == 200, ok.ToString());
        Assert.Equal("application/json; charset=utf-8", ok.Header("Content-Type"));
        Assert.Equal("""{"item":"tea","quantity":3,"total":7.5}""", ok.BodyText);

        // Well-formed but invalid: the [Range] on Quantity. Then not JSON at all.
        var invalid = await PostOrderAsync(master.Port, """{"item":"tea","quantity":0}""");
        Assert.True(invalid.Status == 400, invalid.ToString());
        Assert.StartsWith("application/problem+json", invalid.Header("Content-Type"));
        Assert.True(JsonDocument.Parse(invalid.Body).RootElement.GetProperty("errors").TryGetProperty("Quantity", out _), invalid.BodyText);

        var malformed = await PostOrderAsync(master.Port, """{"item":""");
        Assert.True(malformed.Status == 400, malformed.ToString());
        Assert.StartsWith("application/problem+json", malformed.Header("Content-Type"));
    }

    private static Task<RawResponse> PostOrderAsync(int port, string json) =>
        RawHttpConnection.RequestAsync(port, "POST", "/Orders", json, "Content-Type: application/json");
}
