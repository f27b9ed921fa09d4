namespace Instrumentation.Collector.Ingest;

/// <summary>
/// ISO 8601 / RFC 3339 date-times with a time zone, and nothing else: <c>2026-11-29T12:00:00Z</c>,
/// <c>2026-11-29T13:00:00.1234567+01:00</c>. Up to 9 fractional digits are accepted (digits beyond the 7th, below
/// 100 ns, are dropped). A date alone, a time alone, a missing offset, or any other format is refused: the server's
/// own date or time zone never fills a gap.
/// </summary>
internal static class StrictTimestamp
{
    // The longest accepted form: 2026-11-29T12:00:00.123456789+01:00.
    private const int MaxLength = 35;

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (text is null || text.Length > MaxLength)
        {
            return false;
        }

        Span<byte> utf8 = stackalloc byte[MaxLength * 3];
        return System.Text.Unicode.Utf8.FromUtf16(text, utf8, out _, out int written) == System.Buffers.OperationStatus.Done
            && TryParse(utf8[..written], out value);
    }

    /// <summary>Parses the UTF-8 text of a timestamp (a JSON string's value, unescaped): no string, no regular expression.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out DateTimeOffset value)
    {
        value = default;
        // yyyy-MM-ddTHH:mm:ss, then an optional fraction, then Z or ±hh:mm.
        if (text.Length < 20 || text.Length > MaxLength
            || !Digits(text, 0, 4, out int year) || text[4] != (byte)'-' || !Digits(text, 5, 2, out int month) || text[7] != (byte)'-'
            || !Digits(text, 8, 2, out int day) || (text[10] | 0x20) != (byte)'t'
            || !Digits(text, 11, 2, out int hour) || text[13] != (byte)':' || !Digits(text, 14, 2, out int minute) || text[16] != (byte)':'
            || !Digits(text, 17, 2, out int second))
        {
            return false;
        }

        int at = 19;
        long fractionTicks = 0;
        if (text[at] == (byte)'.')
        {
            int digits = 0;
            at++;
            while (at < text.Length && text[at] is >= (byte)'0' and <= (byte)'9')
            {
                if (digits < 7)
                {
                    fractionTicks = (fractionTicks * 10) + (text[at] - '0');
                }

                digits++;
                at++;
            }

            if (digits is < 1 or > 9)
            {
                return false;
            }

            for (int pad = Math.Min(digits, 7); pad < 7; pad++)
            {
                fractionTicks *= 10;
            }
        }

        TimeSpan offset = TimeSpan.Zero;
        ReadOnlySpan<byte> zone = text[at..];
        if (zone.Length == 1 && (zone[0] | 0x20) == (byte)'z')
        {
            // UTC
        }
        else if (zone.Length == 6 && zone[0] is (byte)'+' or (byte)'-' && zone[3] == (byte)':'
            && Digits(zone, 1, 2, out int offsetHours) && Digits(zone, 4, 2, out int offsetMinutes))
        {
            if (offsetMinutes > 59 || (offsetHours * 60) + offsetMinutes > 14 * 60)
            {
                return false;
            }

            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            if (zone[0] == (byte)'-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
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

    private static bool Digits(ReadOnlySpan<byte> text, int start, int count, out int number)
    {
        number = 0;
        for (int i = start; i < start + count; i++)
        {
            byte c = text[i];
            if (c is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            number = (number * 10) + (c - '0');
        }

        return true;
    }
}
