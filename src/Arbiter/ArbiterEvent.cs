using System.Runtime.InteropServices;

namespace Prefork.Master;

/// <summary>Everything the arbiter's loop reacts to. Producers (signal handlers, pipes, process exits) only post these.</summary>
public abstract record ArbiterEvent;

public sealed record SignalReceived(PosixSignal Signal) : ArbiterEvent;

/// <summary>One line from a worker's channel, as it arrived: the arbiter parses it, once.</summary>
public sealed record WorkerMessage(IWorkerChild Worker, string Line) : ArbiterEvent;

public sealed record WorkerExited(IWorkerChild Worker, int ExitCode) : ArbiterEvent;

/// <summary>The new master started by a binary upgrade exited.</summary>
public sealed record UpgradeExited(int ExitCode) : ArbiterEvent;
