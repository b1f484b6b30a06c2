using System.Runtime.InteropServices;

namespace Prefork.Master;

/// <summary>Everything the arbiter's loop reacts to. Producers (signal handlers, pipes, process exits) only post these.</summary>
public abstract record ArbiterEvent;

public sealed record SignalReceived(PosixSignal Signal) : ArbiterEvent;

public sealed record WorkerMessage(WorkerProcess Worker, string Line) : ArbiterEvent;

public sealed record WorkerExited(WorkerProcess Worker, int ExitCode) : ArbiterEvent;

/// <summary>The new master started by a binary upgrade exited.</summary>
public sealed record UpgradeExited(int ExitCode) : ArbiterEvent;
