using System.Globalization;
using System.Text;
using Prefork.App;
using Prefork.Http;

namespace Prefork.Control;

/// <summary>
/// One worker's cumulative counts since it started, as it reports them to the master once a second on the
/// control channel ("metrics ..." line; see <see cref="ControlChannel.Metrics"/>). Cumulative, not deltas:
/// a lost or repeated line costs nothing, and the master can fold a dead worker's last report into its
/// retired totals so no counter ever goes backwards.
/// </summary>
public sealed class WorkerCounters
{
    /// <summary>Method labels, indexed like Prefork.App.Method (Other first). A test checks they match.</summary>
    public static readonly string[] Methods = ["OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT"];

    public static readonly string[] StatusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    /// <summary>Labels of <see cref="ClientError"/>, in its order.</summary>
    public static readonly string[] ClientErrorKinds = ClientErrorLabels.All;

    /// <summary>Upper bounds in seconds of the request-duration histogram's buckets; one more bucket is +Inf.</summary>
    public static readonly double[] DurationBounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Requests by [method * 5 + status class index].</summary>
    public long[] Requests { get; } = new long[Methods.Length * StatusClasses.Length];
    /// <summary>Per-bucket (not cumulative) request counts; the last is +Inf.</summary>
    public long[] DurationBuckets { get; } = new long[DurationBounds.Length + 1];
    /// <summary>Connections the client's side ended badly, by <see cref="ClientError"/>.</summary>
    public long[] ClientErrors { get; } = new long[ClientErrorKinds.Length];
    public long DurationMicroseconds { get; set; }
    public long BytesIn { get; set; }
    public long BytesOut { get; set; }
    public long Accepted { get; set; }
    /// <summary>A gauge, not a counter: it is never folded into retired totals.</summary>
    public long OpenConnections { get; set; }

    public long TotalRequests => Requests.Sum();

    public static int StatusClassIndex(int status) => Math.Clamp(status / 100, 1, 5) - 1;

    /// <summary>"metrics ACCEPTED OPEN BYTES_IN BYTES_OUT DURATION_US R,R,...(50) B,B,...(15) E,E,...(6)"; about 200 bytes.</summary>
    public string Format()
    {
        var s = new StringBuilder(256);
        s.Append(ControlChannel.Metrics).Append(' ')
            .Append(Accepted).Append(' ').Append(OpenConnections).Append(' ')
            .Append(BytesIn).Append(' ').Append(BytesOut).Append(' ').Append(DurationMicroseconds).Append(' ')
            .AppendJoin(',', Requests).Append(' ').AppendJoin(',', DurationBuckets).Append(' ').AppendJoin(',', ClientErrors);
        return s.ToString();
    }

    /// <summary>Reads a report; false for anything else, or for a layout of another version (a reload mid-upgrade).</summary>
    public static bool TryParse(string line, out WorkerCounters counters)
    {
        counters = new WorkerCounters();
        var parts = line.Split(' ');
        if (parts.Length != 9 || parts[0] != ControlChannel.Metrics) return false;
        if (!long.TryParse(parts[1], out var accepted) || !long.TryParse(parts[2], out var open)
            || !long.TryParse(parts[3], out var bytesIn) || !long.TryParse(parts[4], out var bytesOut)
            || !long.TryParse(parts[5], out var micros)) return false;
        if (!TryParseList(parts[6], counters.Requests) || !TryParseList(parts[7], counters.DurationBuckets)
            || !TryParseList(parts[8], counters.ClientErrors)) return false;
        counters.Accepted = accepted;
        counters.OpenConnections = open;
        counters.BytesIn = bytesIn;
        counters.BytesOut = bytesOut;
        counters.DurationMicroseconds = micros;
        return true;
    }

    private static bool TryParseList(string text, long[] into)
    {
        var items = text.Split(',');
        if (items.Length != into.Length) return false;
        for (int i = 0; i < items.Length; i++)
        {
            if (!long.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out into[i])) return false;
        }
        return true;
    }

    /// <summary>Adds another worker's counts into this one (the gauge too: the caller decides what it sums).</summary>
    public void Add(WorkerCounters other)
    {
        for (int i = 0; i < Requests.Length; i++) Requests[i] += other.Requests[i];
        for (int i = 0; i < DurationBuckets.Length; i++) DurationBuckets[i] += other.DurationBuckets[i];
        for (int i = 0; i < ClientErrors.Length; i++) ClientErrors[i] += other.ClientErrors[i];
        DurationMicroseconds += other.DurationMicroseconds;
        BytesIn += other.BytesIn;
        BytesOut += other.BytesOut;
        Accepted += other.Accepted;
        OpenConnections += other.OpenConnections;
    }
}
