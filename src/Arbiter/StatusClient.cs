using System.Net;

namespace Prefork.Master;

/// <summary>`--status`: fetches /status from a running master's --metrics-bind address and prints it.</summary>
public static class StatusClient
{
    /// <summary>0 with the table on stdout; 1 with one line on stderr when nothing answers.</summary>
    public static async Task<int> RunAsync(BindAddress bind)
    {
        if (bind.EndPoint is not IPEndPoint ip)
        {
            Console.Error.WriteLine($"error: --status needs a HOST:PORT --metrics-bind (got {bind.Text})");
            return 1;
        }
        var host = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip.Address}]" : ip.Address.ToString();
        var url = $"http://{host}:{ip.Port}/status";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(url);
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"error: {url} answered {(int)response.StatusCode}");
                return 1;
            }
            Console.Out.Write(body);
            return 0;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"error: no prefork master answers at {url} ({e.Message})");
            return 1;
        }
    }
}
