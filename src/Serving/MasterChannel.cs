using System.Text;
using Prefork.Control;
using Prefork.Http.Loop;

namespace Prefork.Serving;

/// <summary>
/// The worker's end of the control channel (see <see cref="ControlChannel"/>): commands arrive on stdin, a pipe
/// from the master that the event loop reads like any connection, so each command runs on the loop, between
/// two events, as in nginx. Reports leave on stdout, written by the loop thread only, one write(2) a line, so
/// lines never interleave and need no lock. End of file on stdin means the master is gone. A process whose own
/// code writes to stdout (an ASP.NET Core app's console log) sends its reports on a copy of the pipe instead,
/// <paramref name="reportFd"/>, and points stdout elsewhere.
/// </summary>
public sealed class MasterChannel(Action<string?> onCommand, int reportFd = MasterChannel.Stdout)
{
    public const int Stdout = 1;
    private const int Stdin = 0;
    private bool _closed;

    /// <summary>Starts reading commands; each line is handed to the callback, end of file as null. Call on the loop.</summary>
    public void Listen() => _ = ListenAsync();

    private async Task ListenAsync()
    {
        var input = LoopSocket.ForPipe(Stdin, EventLoop.Shared);
        var buffer = new byte[256];
        int end = 0;
        try
        {
            input.Open();
            while (true)
            {
                // A line can arrive in pieces, or several in one read: only whole lines are commands.
                if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                int n = await input.ReceiveAsync(buffer.AsMemory(end));
                if (n == 0) break;
                end += n;
                int start = 0, newline;
                while ((newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n')) >= 0)
                {
                    onCommand(Encoding.ASCII.GetString(buffer, start, newline));
                    start += newline + 1;
                }
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            Log.Warning($"Reading the master's channel failed ({e.Message}); taking the master for gone");
        }
        // The worker exits soon: stdin stays registered, and being at its end, wakes the loop no more.
        onCommand(null);
    }

    /// <summary>Sends one report. Call on the loop.</summary>
    public void Send(string message)
    {
        if (_closed) return;
        try
        {
            Native.WriteAll(reportFd, Encoding.ASCII.GetBytes(message + "\n"));
        }
        catch (IOException)
        {
            // The master is gone; the loop reads end of file on stdin and the worker stops.
        }
    }

    /// <summary>Sends the last report before exit: nothing follows it, not even a tick's. Call on the loop.</summary>
    public void SendLast(string message)
    {
        Send(message);
        _closed = true;
    }
}
