using System.Runtime.InteropServices;

namespace Prefork;

/// <summary>Signals by number, and what a process inherits of them.</summary>
public static partial class Native
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGTERM = 15,
        SIGTTIN = 21, SIGTTOU = 22, SIGWINCH = 28;

    // The first field of struct sigaction, in glibc and musl alike: SIG_DFL, SIG_IGN or the handler.
    private const nint SIG_DFL = 0, SIG_IGN = 1;
    // Room for any libc's struct sigaction (glibc's is 152 bytes on x64).
    private const int SigActionSize = 256;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static unsafe partial int SigAction(int signal, byte* action, byte* previous);

    /// <summary>Sends a signal by number; USR1 and USR2 have no PosixSignal name.</summary>
    public static bool SendSignal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>The signal's number: PosixSignal's named values are not Linux's numbers, an unnamed one is.</summary>
    public static int Number(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => SIGHUP,
        PosixSignal.SIGINT => SIGINT,
        PosixSignal.SIGQUIT => SIGQUIT,
        PosixSignal.SIGTERM => SIGTERM,
        PosixSignal.SIGTTIN => SIGTTIN,
        PosixSignal.SIGTTOU => SIGTTOU,
        PosixSignal.SIGWINCH => SIGWINCH,
        _ => (int)signal,
    };

    /// <summary>Gives a signal its default action back if it is ignored (SIG_IGN), and leaves a handler alone.</summary>
    public static unsafe void StopIgnoring(int signal)
    {
        byte* action = stackalloc byte[SigActionSize];
        new Span<byte>(action, SigActionSize).Clear();
        if (SigAction(signal, null, action) != 0 || *(nint*)action != SIG_IGN) return;
        new Span<byte>(action, SigActionSize).Clear();
        *(nint*)action = SIG_DFL;
        SigAction(signal, action, null);
    }
}
