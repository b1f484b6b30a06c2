using System.Globalization;

namespace Prefork.Master;

/// <summary>
/// What the master says, at start and on each reload, about the end of the certificate it serves: a warning from 30
/// days before it, an error once it is past. An expired certificate is still served, as it always was (nginx and
/// gunicorn do the same): clients that do not verify it, health checks among them, keep working, and the error line
/// and the gauge are what an operator's alerting watches.
/// </summary>
public static class CertificateExpiry
{
    /// <summary>How early the warning comes: certbot renews 30 days before the end, so a certificate this close was not renewed.</summary>
    public static readonly TimeSpan WarnWithin = TimeSpan.FromDays(30);

    /// <summary>The line to log for <paramref name="certFile"/>, whose certificate ends at <paramref name="notAfter"/> (UTC), as of <paramref name="now"/>; null while the end is further than <see cref="WarnWithin"/>.</summary>
    public static (Log.Level Level, string Message)? Note(string certFile, DateTime notAfter, DateTime now)
    {
        var left = notAfter - now;
        if (left > WarnWithin) return null;
        var date = notAfter.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
        if (left <= TimeSpan.Zero)
            return (Log.Level.Error, $"--certfile {certFile}: the certificate expired on {date}; clients that verify it refuse every connection (renew it, then send HUP)");
        int days = (int)left.TotalDays;
        var within = days switch { 0 => "less than a day", 1 => "1 day", _ => $"{days} days" };
        return (Log.Level.Warning, $"--certfile {certFile}: the certificate expires on {date}, in {within} (renew it, then send HUP)");
    }
}
