using Prefork.Control;

namespace Prefork.Worker;

/// <summary>
/// The worker's end of the control channel (see <see cref="ControlChannel"/>): commands arrive on stdin,
/// reports leave on stdout. End of file on stdin means the master is gone.
/// </summary>
public sealed class MasterChannel
{
    private readonly object _gate = new();
    private readonly TextWriter _out = Console.Out;

    /// <summary>Starts reading commands; each line is handed to <paramref name="onCommand"/>, end of file as null.</summary>
    public MasterChannel(Action<string?> onCommand)
    {
        var reader = new Thread(() =>
        {
            string? line;
            while ((line = Console.In.ReadLine()) != null) onCommand(line);
            onCommand(null);
        }) { IsBackground = true, Name = "master channel" };
        reader.Start();
    }

    public void Send(string message)
    {
        lock (_gate)
        {
            try
            {
                _out.Write(message + "\n");
                _out.Flush();
            }
            catch (IOException)
            {
                // The master is gone; the reader sees end of file and the worker stops.
            }
        }
    }
}
