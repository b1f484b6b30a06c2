using System.Text.Json;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>The demo app's GET /worker: what a user checks first, so its count must be right from the first call.</summary>
public class WorkerPageTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("async")]
    [InlineData("sync")]
    public async Task The_request_count_includes_the_request_it_answers(string workerClass)
    {
        await using var master = await MasterProcess.StartReadyAsync(1, ["--worker-class", workerClass], output);
        for (int expected = 1; expected <= 3; expected++)
        {
            var page = JsonDocument.Parse((await RawHttpConnection.GetAsync(master.Port, "/worker")).BodyText).RootElement;
            Assert.Equal(expected, page.GetProperty("requests").GetInt64());
        }
    }
}
