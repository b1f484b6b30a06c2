using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Prefork.Tests.Content;

/// <summary>Builds samples/TodoApi once, outside the solution, the way a user would build their app.</summary>
public sealed class SampleBuild : IAsyncLifetime
{
    public Task InitializeAsync() =>
        DotnetCli.RunAsync(TimeSpan.FromMinutes(3), "build", "samples/TodoApi", "-c", "Debug", "-o", Output, "--nologo", "-v", "quiet");

    public string Output { get; } = Directory.CreateTempSubdirectory("prefork-todoapi-").FullName;
    public string Assembly => Path.Combine(Output, "TodoApi.dll");

    /// <summary>A database file of its own for one server (TODOAPI_DB), so tests do not see each other's todos.</summary>
    public Dictionary<string, string> NewDatabase() =>
        new() { ["TODOAPI_DB"] = Path.Combine(Output, $"todos-{Guid.NewGuid():N}.db") };

    public Task DisposeAsync()
    {
        Directory.Delete(Output, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>--app: the user's assembly in every worker, instead of the demo app.</summary>
[Collection(BuildsFirst.SampleBuild)]
public sealed class AppTests : IClassFixture<SampleBuild>
{
    private readonly SampleBuild _sample;

    public AppTests(SampleBuild sample) => _sample = sample;

    [Fact]
    public async Task The_sample_api_runs_in_the_real_server()
    {
        await using var server = await ContentServer.StartAsync(_sample.NewDatabase(), 1, "--app", _sample.Assembly);
        Assert.Equal("[]", (await server.SendAsync("GET", "/todos")).Text);

        // "done": 1 is not a boolean: the app's own validation, reading BodyStream.
        Assert.Equal(400, (await PostAsync(server, "{\"title\":\"milk\",\"done\":1}")).Status);

        var created = await PostAsync(server, "{\"title\":\"milk\"}");
        Assert.Equal((201, "/todos/1", "application/json"), (created.Status, created.Header("Location"), created.Header("Content-Type")));
        var todo = JsonDocument.Parse(created.Text).RootElement;
        Assert.Equal((1, "milk", false), (todo.GetProperty("id").GetInt32(), todo.GetProperty("title").GetString(), todo.GetProperty("done").GetBoolean()));

        Assert.Equal(created.Text, (await server.SendAsync("GET", "/todos/1")).Text);
        Assert.Equal(404, (await server.SendAsync("GET", "/todos/2")).Status);
        Assert.Equal(204, (await server.SendAsync("DELETE", "/todos/1")).Status);
        Assert.Equal(405, (await server.SendAsync("PUT", "/todos")).Status);
        Assert.Equal(404, (await server.SendAsync("GET", "/hello")).Status); // the demo app is not there
    }

    [Fact]
    public async Task Every_worker_sees_the_same_todos()
    {
        const int workers = 2, requests = 20;
        await using var server = await ContentServer.StartAsync(_sample.NewDatabase(), workers,
            "--app", _sample.Assembly, "--access-log", "-", "--access-log-format", "json");
        Assert.Equal(201, (await PostAsync(server, "{\"title\":\"milk\"}")).Status);

        // Each request on a fresh connection (Connection: close): idle workers take turns at accept(), so the
        // requests go round all of them, and the access log says which worker answered each.
        var found = await GetManyAsync(server, "/todos/1", requests);
        Assert.Equal(Enumerable.Repeat(200, requests), found.Statuses);
        Assert.Equal(workers, found.Pids.Count);

        Assert.Equal(204, (await server.SendAsync("DELETE", "/todos/1")).Status);
        var gone = await GetManyAsync(server, "/todos/1", requests);
        Assert.Equal(Enumerable.Repeat(404, requests), gone.Statuses);
        Assert.Equal(workers, gone.Pids.Count);
    }

    [Fact]
    public async Task Without_TODOAPI_DB_the_list_lives_next_to_the_app()
    {
        await using var server = await ContentServer.StartAsync(1, "--app", _sample.Assembly);
        Assert.Equal(201, (await PostAsync(server, "{\"title\":\"milk\"}")).Status);
        Assert.True(File.Exists(Path.Combine(_sample.Output, "todos.db")));
    }

    [Fact]
    public async Task An_exception_costs_one_request_a_500_and_the_worker_goes_on()
    {
        await using var server = await ContentServer.StartAsync(_sample.NewDatabase(), 1, "--app", _sample.Assembly);
        var worker = server.WorkerPids[0];
        Assert.Equal(500, (await server.SendAsync("GET", "/boom")).Status);
        Assert.NotNull(await server.WaitForLineAsync(l => l.Contains("[ERROR] Error handling \"GET /boom HTTP/1.1\"") && l.Contains("fails on purpose"), TimeSpan.FromSeconds(10)));
        Assert.Equal(201, (await PostAsync(server, "{\"title\":\"after\"}")).Status);
        Assert.True(Process.GetProcessById(worker) is { HasExited: false });
    }

    [Fact]
    public async Task Static_files_sit_in_front_of_the_users_app()
    {
        using var tree = new ContentTree();
        await using var server = await ContentServer.StartAsync(_sample.NewDatabase(), 1, "--app", _sample.Assembly, "--root", tree.Root, "--root-prefix", "/static");
        Assert.Equal(ContentTree.Digits, (await server.SendAsync("GET", "/static/digits.txt")).Text);
        Assert.Equal("[]", (await server.SendAsync("GET", "/todos")).Text);
    }

    [Fact]
    public async Task A_type_that_is_not_there_stops_the_master_with_exit_code_3()
    {
        await using var server = await ContentServer.LaunchAsync(["--bind", "127.0.0.1:0", "--workers", "2", "--app", _sample.Assembly + ":TodoApi.NoSuchApp"]);
        Assert.Equal(3, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("[CRITICAL] Worker cannot boot:", server.Log);
        Assert.Contains("has no type TodoApi.NoSuchApp", server.Log);
    }

    [Fact]
    public async Task A_missing_assembly_is_a_one_line_error_with_exit_code_2()
    {
        await using var server = await ContentServer.LaunchAsync(["--bind", "127.0.0.1:0", "--app", "/no/such/App.dll"]);
        Assert.Equal(2, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("error: --app: no such file '/no/such/App.dll'", server.Log.Trim());
    }

    /// <summary>GETs <paramref name="path"/> <paramref name="count"/> times; the statuses, and the pids that answered (from the access log).</summary>
    private static async Task<(List<int> Statuses, HashSet<int> Pids)> GetManyAsync(ContentServer server, string path, int count)
    {
        int logged = server.StdoutLines.Count;
        var statuses = new List<int>();
        for (int i = 0; i < count; i++) statuses.Add((await server.SendAsync("GET", path)).Status);
        // A worker logs a request once it has answered it: wait, bounded, for every line.
        var waited = Stopwatch.StartNew();
        while (server.StdoutLines.Count < logged + count && waited.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20);
        var pids = server.StdoutLines.Skip(logged).Select(line => JsonDocument.Parse(line).RootElement)
            .Where(entry => entry.GetProperty("target").GetString() == path)
            .Select(entry => entry.GetProperty("pid").GetInt32()).ToHashSet();
        return (statuses, pids);
    }

    private static Task<RawResponse> PostAsync(ContentServer server, string json) =>
        server.SendWithBodyAsync("POST", "/todos", Encoding.UTF8.GetBytes(json), "Content-Type: application/json");
}
