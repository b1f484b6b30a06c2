using Xunit.Abstractions;

namespace Prefork.Tests.Server;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneOnTheMachine
{
    // How the kernel schedules the workers is what is measured: the other tests' servers must not be running.
    public const string Name = "alone on the machine";
}

/// <summary>How a burst of new connections is spread over the workers (Scoreboard, WorkerServer.LoopAccept.cs).</summary>
[Collection(AloneOnTheMachine.Name)]
public class BurstSpreadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_burst_of_keep_alive_connections_is_spread_evenly_over_the_workers()
    {
        // gunicorn's users' complaint: a burst lands on whichever worker runs first, and keep-alive pins it there.
        // 64 clients connect at once, as wrk does, and stay connected; each worker should hold about 16.
        const int Workers = 4, Clients = 64;
        await using var master = await MasterProcess.StartReadyAsync(Workers, output: output);
        var connections = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => RawHttpConnection.ConnectAsync(master.Port)));
        try
        {
            var pids = await Task.WhenAll(connections.Select(async c =>
            {
                await c.SendAsync("GET /worker HTTP/1.1\r\nHost: localhost\r\n\r\n");
                return (await c.ReadResponseAsync()).WorkerPid;
            }));
            var held = master.WorkerPids.ToDictionary(pid => pid, pid => pids.Count(p => p == pid));
            output.WriteLine($"connections held per worker: {string.Join(", ", held.Select(h => $"{h.Key}×{h.Value}"))}");
            // Loose on purpose: an uneven burst puts 1 or 2 on some workers and 30 or more on others.
            Assert.All(held, h => Assert.InRange(h.Value, Clients / Workers / 2, Clients / Workers * 2));
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }
}
