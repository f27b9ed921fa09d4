using System.Text.RegularExpressions;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// ISO 8601 / RFC 3339 date-times with a time zone, and nothing else: <c>2026-11-29T12:00:00Z</c>,
/// <c>2026-11-29T13:00:00.1234567+01:00</c>. Up to 9 fractional digits are accepted (digits beyond the 7th, below
/// 100 ns, are dropped). A date alone, a time alone, a missing offset, or any other format is refused: the server's
/// own date or time zone never fills a gap.
/// </summary>
internal static partial class StrictTimestamp
{
    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        Match match = text is null ? Match.Empty : Pattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        int year = Number(match, "year"), month = Number(match, "month"), day = Number(match, "day");
        int hour = Number(match, "hour"), minute = Number(match, "minute"), second = Number(match, "second");
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        string fraction = match.Groups["fraction"].Value;
        long fractionTicks = fraction.Length == 0 ? 0 : long.Parse(fraction.PadRight(7, '0').AsSpan(0, 7), System.Globalization.CultureInfo.InvariantCulture);
        TimeSpan offset = TimeSpan.Zero;
        if (match.Groups["offset_hours"].Success)
        {
            int offsetHours = Number(match, "offset_hours"), offsetMinutes = Number(match, "offset_minutes");
            if (offsetMinutes > 59 || (offsetHours * 60) + offsetMinutes > 14 * 60)
            {
                return false;
            }

            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            if (match.Groups["sign"].Value == "-")
            {
                offset = -offset;
            }
        }

        long localTicks = new DateTime(year, month, day, hour, minute, second).Ticks + fractionTicks;
        long utcTicks = localTicks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false; // e.g. 0001-01-01T00:00:00+01:00, before the first representable instant
        }

        value = new DateTimeOffset(utcTicks, TimeSpan.Zero);
        return true;
    }

    private static int Number(Match match, string group) => int.Parse(match.Groups[group].ValueSpan, System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<year>[0-9]{4})-(?<month>[0-9]{2})-(?<day>[0-9]{2})[Tt](?<hour>[0-9]{2}):(?<minute>[0-9]{2}):(?<second>[0-9]{2})(\.(?<fraction>[0-9]{1,9}))?([Zz]|(?<sign>[+-])(?<offset_hours>[0-9]{2}):(?<offset_minutes>[0-9]{2}))\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
