using System.Globalization;

namespace Instrumentation.Collector.Dashboard;

/// <summary>A time range chosen on a page (<c>range=hour|day|week|all|custom</c>, with <c>from</c>/<c>to</c> for custom), and the chart bucket that fits it.</summary>
/// <param name="Name">The range's name as in the URL.</param>
/// <param name="From">Start, or null for no lower bound.</param>
/// <param name="Until">End (exclusive), or null for no upper bound.</param>
/// <param name="Bucket">The chart's bucket width: one minute for an hour, more for longer ranges (at most ~120 bars).</param>
public sealed record TimeWindow(string Name, DateTimeOffset? From, DateTimeOffset? Until, TimeSpan Bucket)
{
    private static readonly int[] BucketMinutes = [1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10080];

    /// <summary>The form value of a time input (UTC, minute precision).</summary>
    /// <param name="value">The time.</param>
    /// <returns>Text like <c>2026-11-29T12:00</c>, or empty.</returns>
    public static string InputValue(DateTimeOffset? value) => value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture) ?? string.Empty;

    /// <summary>The form value of a range's end, rounded up to the minute: the activity view counts whole minutes, so its
    /// drill-down into the explorer must reach the end of the last one (rounding down would drop the newest events).</summary>
    /// <param name="value">The end.</param>
    /// <returns>Text like <c>2026-11-29T12:01</c>, or empty.</returns>
    public static string InputValueRoundedUp(DateTimeOffset? value) =>
        value is { } end && end.UtcTicks % TimeSpan.TicksPerMinute != 0 && DateTimeOffset.MaxValue - end >= TimeSpan.FromMinutes(1)
            ? InputValue(end.AddMinutes(1))
            : InputValue(value);

    /// <summary>Reads the range from a request's query values.</summary>
    /// <param name="range">The range name; null picks <paramref name="defaultName"/>.</param>
    /// <param name="from">Custom start (ISO 8601, UTC unless it has an offset).</param>
    /// <param name="to">Custom end.</param>
    /// <param name="now">The current time.</param>
    /// <param name="defaultName">The range when none is given.</param>
    /// <param name="window">The range.</param>
    /// <param name="error">Why the input was refused.</param>
    /// <returns>Whether the input was valid.</returns>
    public static bool TryParse(string? range, string? from, string? to, DateTimeOffset now, string defaultName, out TimeWindow window, out string? error)
    {
        error = null;
        string name = string.IsNullOrEmpty(range) ? defaultName : range;
        if (name != "custom" && (!string.IsNullOrEmpty(from) || !string.IsNullOrEmpty(to)) && string.IsNullOrEmpty(range))
        {
            name = "custom"; // a link or form that only gives from/to means a custom range
        }

        switch (name)
        {
            case "hour":
                window = Fixed(name, now, TimeSpan.FromHours(1));
                return true;
            case "day":
                window = Fixed(name, now, TimeSpan.FromDays(1));
                return true;
            case "week":
                window = Fixed(name, now, TimeSpan.FromDays(7));
                return true;
            case "all":
                window = new TimeWindow(name, null, null, TimeSpan.FromHours(1));
                return true;
            case "custom":
                if (!TryParseTime(from, out DateTimeOffset? start) || !TryParseTime(to, out DateTimeOffset? end))
                {
                    error = "'from' and 'to' must be dates and times such as 2026-11-29T12:00 (UTC) or ISO 8601 with an offset.";
                    break;
                }

                if (start is not null && end is not null && end <= start)
                {
                    error = "'to' must be later than 'from'.";
                    break;
                }

                DateTimeOffset chartStart = start ?? Before(end ?? now, TimeSpan.FromDays(1));
                DateTimeOffset chartEnd = end ?? now;
                window = new TimeWindow(name, start, end, BucketFor(chartEnd - chartStart));
                return true;
            default:
                error = $"Unknown range '{name}': use hour, day, week, all or custom.";
                break;
        }

        window = Fixed(defaultName == "all" ? "day" : defaultName, now, TimeSpan.FromDays(1));
        return false;
    }

    /// <summary>The bucket width that splits <paramref name="span"/> into at most about 120 bars.</summary>
    /// <param name="span">The range's length.</param>
    /// <returns>The bucket.</returns>
    public static TimeSpan BucketFor(TimeSpan span)
    {
        foreach (int minutes in BucketMinutes)
        {
            if (span.TotalMinutes / minutes <= 120)
            {
                return TimeSpan.FromMinutes(minutes);
            }
        }

        return TimeSpan.FromMinutes(BucketMinutes[^1] * Math.Ceiling(span.TotalMinutes / BucketMinutes[^1] / 120));
    }

    /// <summary><paramref name="time"/> less <paramref name="span"/>, or the earliest time when that is before it (a range may end in year 1).</summary>
    /// <param name="time">The time.</param>
    /// <param name="span">How far back.</param>
    /// <returns>The earlier time.</returns>
    public static DateTimeOffset Before(DateTimeOffset time, TimeSpan span) =>
        time - DateTimeOffset.MinValue < span ? DateTimeOffset.MinValue : time - span;

    private static TimeWindow Fixed(string name, DateTimeOffset now, TimeSpan span) => new(name, now - span, now, BucketFor(span));

    private static bool TryParseTime(string? text, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset parsed))
        {
            value = parsed;
            return true;
        }

        return false;
    }
}
