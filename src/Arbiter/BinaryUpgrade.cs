using System.Diagnostics;
using System.Threading.Channels;
using Prefork.Control;

namespace Prefork.Master;

/// <summary>
/// Zero-downtime binary upgrade, as nginx and unicorn do it. On SIGUSR2 the old master starts a new master
/// from the binaries on disk and hands it the listening sockets (their descriptors in PREFORK_INHERIT_FDS).
/// The new master boots its workers on the same sockets; once all are ready it sends SIGTERM to the old
/// master (PREFORK_OLD_MASTER), which stops its workers gracefully and exits. (TERM, not QUIT: a shell that
/// starts a program in the background makes it ignore QUIT and INT.) Both generations accept from
/// the same queue throughout, so no connection is refused.
/// </summary>
public sealed class BinaryUpgrade
{
    public const string InheritFdsVariable = "PREFORK_INHERIT_FDS";
    private const string OldMasterVariable = "PREFORK_OLD_MASTER";

    private readonly Listeners _listeners;
    private readonly PidFile? _pidFile;
    private readonly ChannelWriter<ArbiterEvent> _events;
    private Process? _newMaster;
    private int _oldMaster;

    public BinaryUpgrade(Listeners listeners, PidFile? pidFile, ChannelWriter<ArbiterEvent> events)
    {
        _listeners = listeners;
        _pidFile = pidFile;
        _events = events;
        // Read once and cleared, so that neither our workers nor a later upgrade of ours see it.
        int.TryParse(Environment.GetEnvironmentVariable(OldMasterVariable), out _oldMaster);
        Environment.SetEnvironmentVariable(OldMasterVariable, null);
        _listeners.OldMasterServes = _oldMaster != 0;
    }

    /// <summary>The old master's side: start the new one with our sockets.</summary>
    public void Start()
    {
        if (_newMaster != null)
        {
            Log.Warning($"An upgrade is already under way (new master pid {_newMaster.Id}); ignoring SIGUSR2");
            return;
        }
        // Prefork.Master, or an app that is its own master, whose new program finds it is the master again.
        var start = new ProcessStartInfo { UseShellExecute = false };
        WorkerExecutable.ThisProgram(start);
        foreach (var arg in Environment.GetCommandLineArgs().Skip(1)) start.ArgumentList.Add(arg);
        start.Environment[InheritFdsVariable] = string.Join(',', _listeners.Fds);
        start.Environment[OldMasterVariable] = Environment.ProcessId.ToString();

        _pidFile?.MoveToOldBin();
        _listeners.HandedOver = true;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.Exited += (_, _) => _events.TryWrite(new UpgradeExited(process.ExitCode));
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Log.Error($"Cannot start a new master: {e.Message}; still serving");
            Abandon();
            return;
        }
        _newMaster = process;
        Log.Info($"Started new master with pid {process.Id}");
    }

    /// <summary>The new master died before it took over: this master keeps serving and keeps its sockets and pid file.</summary>
    public void Exited(int exitCode)
    {
        if (_newMaster == null) return;
        Log.Error($"New master (pid {_newMaster.Id}) exited with code {exitCode}; still serving");
        Abandon();
    }

    /// <summary>The new master's side: once every worker is ready, the old master may go.</summary>
    public void WorkerReady(bool allReady)
    {
        if (!allReady || _oldMaster == 0) return;
        Log.Info($"All workers ready; sending SIGTERM to the old master (pid {_oldMaster})");
        Native.SendSignal(_oldMaster, Native.SIGTERM);
        _oldMaster = 0;
        _listeners.OldMasterServes = false;
    }

    private void Abandon()
    {
        _newMaster = null;
        _listeners.HandedOver = false;
        _pidFile?.RestoreFromOldBin();
    }
}
