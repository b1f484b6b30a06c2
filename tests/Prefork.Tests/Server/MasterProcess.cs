using System.Diagnostics;
using System.Text.RegularExpressions;
using Prefork.Control;
using Xunit.Abstractions;

namespace Prefork.Tests.Server;

/// <summary>
/// One real Prefork.Master run by a test: started from the test output folder (or another folder), its
/// stderr collected line by line, waits bounded and driven by the lines themselves. Disposing kills what is
/// still running (by pid only) and checks the log for crashes.
/// </summary>
public sealed partial class MasterProcess : IAsyncDisposable
{
    /// <summary>Masters alive at once across the whole test run; the machine has two cores.</summary>
    private static readonly SemaphoreSlim Slots = new(4, 4);

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly ITestOutputHelper? _output;
    private readonly object _gate = new();
    private readonly List<string> _lines = new();
    private readonly List<string> _stdout = new();
    private readonly List<(Func<string, bool> Predicate, int From, TaskCompletionSource<string> Done)> _waiters = new();
    private readonly HashSet<int> _seenWorkers = new();
    private readonly HashSet<int> _liveWorkers = new();
    private readonly HashSet<int> _adopted = new();
    private readonly Task _stderrPump, _stdoutPump;
    private bool _slotHeld;
    private bool _disposed;

    private MasterProcess(Process process, ITestOutputHelper? output, bool slotHeld)
    {
        _process = process;
        _output = output;
        _slotHeld = slotHeld;
        MasterPid = process.Id;
        _stderrPump = PumpAsync(process.StandardError, OnStderrLine);
        _stdoutPump = PumpAsync(process.StandardOutput, line => { lock (_gate) _stdout.Add(line); });
    }

    public int MasterPid { get; }
    public int Port { get; private set; }

    /// <summary>A [CRITICAL] line is what this test expects (boot failure); otherwise one fails the test on dispose.</summary>
    public bool ExpectCritical { get; set; }

    /// <summary>An "Unhandled exception" is what this test expects; otherwise one fails the test on dispose.</summary>
    public bool ExpectUnhandledException { get; set; }

    public IReadOnlyList<string> Lines { get { lock (_gate) return _lines.ToList(); } }
    public IReadOnlyList<string> StdoutLines { get { lock (_gate) return _stdout.ToList(); } }
    public int LineCount { get { lock (_gate) return _lines.Count; } }

    /// <summary>Workers booted and not yet seen to exit, per the master's log.</summary>
    public IReadOnlyList<int> WorkerPids { get { lock (_gate) return _liveWorkers.ToList(); } }

    /// <summary>Every worker pid the log ever mentioned booting.</summary>
    public IReadOnlyList<int> AllWorkerPids { get { lock (_gate) return _seenWorkers.ToList(); } }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts a master. Unless the arguments hold a --bind, binds 127.0.0.1:0. <paramref name="program"/>
    /// runs something else that execs the master (a shell setting up descriptors); its arguments are then
    /// passed as they are. <paramref name="environment"/> is added to the master's, which its workers inherit.
    /// </summary>
    public static async Task<MasterProcess> StartAsync(IEnumerable<string> args, ITestOutputHelper? output = null,
        string? directory = null, bool defaultBind = true, string? program = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        await Slots.WaitAsync();
        try
        {
            if (program != null) defaultBind = false;
            var start = new ProcessStartInfo(program ?? Path.Combine(directory ?? AppContext.BaseDirectory, "Prefork.Master"))
            {
                UseShellExecute = false,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                RedirectStandardInput = true,
                WorkingDirectory = directory ?? AppContext.BaseDirectory,
            };
            foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
            var list = args.ToList();
            if (defaultBind && !list.Contains("--bind") && !list.Any(a => a.StartsWith("--bind=", StringComparison.Ordinal)))
            {
                start.ArgumentList.Add("--bind");
                start.ArgumentList.Add("127.0.0.1:0");
            }
            foreach (var a in list) start.ArgumentList.Add(a);
            output?.WriteLine($"$ {Path.GetFileName(start.FileName)} {string.Join(' ', start.ArgumentList)}");
            var process = Process.Start(start) ?? throw new InvalidOperationException("Prefork.Master did not start");
            return new MasterProcess(process, output, slotHeld: true);
        }
        catch
        {
            Slots.Release();
            throw;
        }
    }

    /// <summary>Starts a master and waits until it listens and <paramref name="workers"/> workers said ready.</summary>
    public static async Task<MasterProcess> StartReadyAsync(int workers, IEnumerable<string>? extraArgs = null,
        ITestOutputHelper? output = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var args = new List<string> { "--workers", workers.ToString() };
        args.AddRange(extraArgs ?? []);
        var master = await StartAsync(args, output, environment: environment);
        try
        {
            await master.WaitForReadyAsync(workers);
            return master;
        }
        catch
        {
            await master.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for the Listening line (sets <see cref="Port"/>) and for <paramref name="workers"/> distinct ready lines.</summary>
    public async Task WaitForReadyAsync(int workers, TimeSpan? timeout = null)
    {
        var t = timeout ?? DefaultTimeout;
        var listening = await WaitForLineAsync(AnyListeningRegex(), t);
        if (ListeningRegex().Match(listening.Value) is { Success: true } tcp) Port = int.Parse(tcp.Groups["port"].Value);
        await WaitForCountAsync(ReadyRegex(), workers, t);
    }

    /// <summary>Waits until <paramref name="count"/> lines from index <paramref name="from"/> on match.</summary>
    public async Task WaitForCountAsync(Regex regex, int count, TimeSpan timeout, int from = 0)
    {
        int seen = 0;
        await WaitForLineAsync(line => regex.IsMatch(line) && ++seen >= count, timeout, from);
    }

    public async Task<Match> WaitForLineAsync(Regex regex, TimeSpan? timeout = null, int from = 0)
    {
        var line = await WaitForLineAsync(regex.IsMatch, timeout ?? DefaultTimeout, from);
        return regex.Match(line);
    }

    /// <summary>
    /// Completes with the first stderr line at index <paramref name="from"/> or later that satisfies the
    /// predicate (the predicate sees each line once, in order); throws TimeoutException with the log otherwise.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, int from = 0)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            for (int i = from; i < _lines.Count; i++)
            {
                if (predicate(_lines[i])) return _lines[i];
            }
            _waiters.Add((predicate, from, done));
        }
        var finished = await Task.WhenAny(done.Task, Task.Delay(timeout));
        if (finished == done.Task) return await done.Task;
        lock (_gate) _waiters.RemoveAll(w => w.Done == done);
        throw new TimeoutException($"No matching line within {timeout.TotalSeconds:0}s. Log so far:\n{Log}");
    }

    public string Log => string.Join("\n", Lines);

    public bool Signal(int signal) => Native.SendSignal(MasterPid, signal);

    /// <summary>
    /// A process the master's run started that this harness did not (the new master of a binary upgrade,
    /// workers logged elsewhere): killed by pid on dispose if it is still a Prefork process.
    /// </summary>
    public void Adopt(int pid)
    {
        lock (_gate) _adopted.Add(pid);
    }

    /// <summary>
    /// Waits (bounded) for the master to exit and, unless <paramref name="waitForOutput"/> is false (another
    /// process, like a new master, still holds the pipe), for its stderr to reach end of file; returns the exit code.
    /// </summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null, bool waitForOutput = true)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Master {MasterPid} still running after {(timeout ?? DefaultTimeout).TotalSeconds:0}s. Log:\n{Log}");
        }
        // Workers share the master's stderr; once they are gone too the pipe ends. Bounded: an orphan may hold it.
        if (waitForOutput) await Task.WhenAny(Task.WhenAll(_stderrPump, _stdoutPump), Task.Delay(TimeSpan.FromSeconds(5)));
        return _process.ExitCode;
    }

    /// <summary>Stderr and stdout to their ends (for runs with no workers, like a bad flag), bounded.</summary>
    public async Task<bool> WaitForOutputEndAsync(TimeSpan timeout)
    {
        var all = Task.WhenAll(_stderrPump, _stdoutPump);
        return await Task.WhenAny(all, Task.Delay(timeout)) == all;
    }

    private async Task PumpAsync(StreamReader reader, Action<string> onLine)
    {
        try
        {
            string? line;
            while ((line = await reader.ReadLineAsync()) != null) onLine(line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private void OnStderrLine(string line)
    {
        List<TaskCompletionSource<string>> wake = new();
        lock (_gate)
        {
            _lines.Add(line);
            int index = _lines.Count - 1;
            if (BootingRegex().Match(line) is { Success: true } b)
            {
                int pid = int.Parse(b.Groups["pid"].Value);
                _seenWorkers.Add(pid);
                _liveWorkers.Add(pid);
            }
            else if (WorkerGoneRegex().Match(line) is { Success: true } g)
            {
                _liveWorkers.Remove(int.Parse(g.Groups["pid"].Value));
            }
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                var w = _waiters[i];
                if (index >= w.From && w.Predicate(line))
                {
                    wake.Add(w.Done);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var done in wake) done.TrySetResult(line);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                Native.SendSignal(MasterPid, Native.SIGKILL);
                await _process.WaitForExitAsync(new CancellationTokenSource(DefaultTimeout).Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
        }
        // Adopted masters first (so they start no more workers), each by pid and only if it is still a Prefork process.
        List<int> adopted;
        lock (_gate) adopted = _adopted.ToList();
        foreach (var pid in adopted)
        {
            if (ProcFs.IsAlive(pid) && ProcFs.CommandLineContains(pid, "Prefork.")) Native.SendSignal(pid, Native.SIGKILL);
        }
        // Workers outlive a killed master for a moment; kill the ones this run booted, by pid, if they are still ours:
        // the worker program, or an ASP.NET Core app started with a worker's settings.
        foreach (var pid in AllWorkerPids)
        {
            if (ProcFs.IsAlive(pid) && (ProcFs.CommandLineContains(pid, "Prefork.Worker") || ProcFs.EnvironmentContains(pid, WorkerSettings.EnvironmentVariable + "=")))
                Native.SendSignal(pid, Native.SIGKILL);
        }
        await Task.WhenAny(Task.WhenAll(_stderrPump, _stdoutPump), Task.Delay(TimeSpan.FromSeconds(5)));
        _process.Dispose();
        if (_slotHeld)
        {
            _slotHeld = false;
            Slots.Release();
        }

        var lines = Lines;
        if (_output != null)
        {
            try
            {
                foreach (var line in lines) _output.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // The test has already finished (a fixture's master): nowhere to write.
            }
        }
        var problems = lines.Where(l =>
            (!ExpectUnhandledException && l.Contains("Unhandled exception", StringComparison.Ordinal)) ||
            (!ExpectCritical && l.Contains("[CRITICAL]", StringComparison.Ordinal))).ToList();
        if (problems.Count > 0)
            throw new Xunit.Sdk.XunitException($"Master {MasterPid} logged unexpected failures:\n{string.Join("\n", problems)}\nFull log:\n{string.Join("\n", lines)}");
    }

    [GeneratedRegex(@"Listening at: http://127\.0\.0\.1:(?<port>\d+) \(master pid (?<pid>\d+)\)")]
    public static partial Regex ListeningRegex();

    [GeneratedRegex(@"Listening at: (?<url>\S+) \(master pid (?<pid>\d+)\)")]
    public static partial Regex AnyListeningRegex();

    /// <summary>The metrics port a master started with --metrics-bind 127.0.0.1:0 logged.</summary>
    public async Task<int> WaitForMetricsPortAsync(TimeSpan? timeout = null) =>
        int.Parse((await WaitForLineAsync(MetricsRegex(), timeout)).Groups["port"].Value);

    [GeneratedRegex(@"Metrics at: http://127\.0\.0\.1:(?<port>\d+)/metrics")]
    public static partial Regex MetricsRegex();

    [GeneratedRegex(@"Booting worker (?<n>\d+) with pid (?<pid>\d+)")]
    public static partial Regex BootingRegex();

    [GeneratedRegex(@"Worker (?<n>\d+) \(pid (?<pid>\d+)\) ready")]
    public static partial Regex ReadyRegex();

    [GeneratedRegex(@"Worker (?<n>\d+) \(pid (?<pid>\d+)\) (exited with code|was killed by signal) (?<code>\d+)")]
    public static partial Regex WorkerGoneRegex();
}
