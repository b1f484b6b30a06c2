using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Prefork.Http.Loop;

/// <summary>
/// sendfile(2) on the loop, as nginx sends a file: the kernel copies from the page cache to the socket until the
/// socket's buffer is full, and the rest waits for the next write edge like any send. (.NET's way to sendfile,
/// Socket.SendPacketsAsync, runs on .NET's own socket engine, beside this loop, and cost about half a
/// millisecond of CPU a file, whatever its size.)
/// </summary>
public sealed partial class LoopSocket
{
    // The file being sent while a send waits for room: its descriptor's owner, and what is left of it.
    private SafeFileHandle? _file;
    private long _fileOffset, _fileEnd;

    public ValueTask SendFileAsync(SafeFileHandle file, long offset, int count)
    {
        _file = file;
        _fileOffset = offset;
        _fileEnd = offset + count;
        if (TrySendFile())
        {
            _file = null;
            return default;
        }
        _sent.Reset();
        WaitWritable();
        return new ValueTask(this, _sent.Version);
    }

    private void ContinueSendFile()
    {
        try
        {
            if (!TrySendFile())
            {
                WaitWritable();
                return;
            }
            _file = null;
            _sent.SetResult(true);
        }
        catch (IOException e)
        {
            _file = null;
            _sent.SetException(e);
        }
    }

    /// <summary>True once the whole range is sent; false when the socket's buffer filled up first.</summary>
    private unsafe bool TrySendFile()
    {
        if (!WriteReady.MayBeReady) return false;
        long edges = WriteReady.Edges;
        int fileFd = (int)_file!.DangerousGetHandle();
        while (_fileOffset < _fileEnd)
        {
            long offset = _fileOffset;
            nint n = SendFile(Fd, fileFd, &offset, (nuint)(_fileEnd - _fileOffset));
            if (n > 0)
            {
                _fileOffset = offset;
                continue;
            }
            // The file is shorter than the range the response promised: the response cannot be finished.
            if (n == 0) throw new IOException("sendfile: the file ended before the range did");
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR) continue;
            if (errno != EAGAIN) throw Failure("sendfile", errno);
            WriteReady.Drained(edges);
            return false;
        }
        return true;
    }

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static unsafe partial nint SendFile(int outFd, int inFd, long* offset, nuint count);
}
