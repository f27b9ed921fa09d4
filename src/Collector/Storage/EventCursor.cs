using System.Globalization;

namespace Instrumentation.Collector.Storage;

/// <summary>Where a row sits in the newest-first order of <c>GET /logs</c>: the event's timestamp, then the row's sequence.</summary>
/// <param name="Ticks">The timestamp in UTC ticks.</param>
/// <param name="Sequence">The row's sequence number (assigned by the store when the row was added).</param>
public readonly record struct EventCursor(long Ticks, long Sequence)
{
    /// <inheritdoc />
    public override string ToString() => Ticks.ToString(CultureInfo.InvariantCulture) + "-" + Sequence.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads a cursor written by <see cref="ToString"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="cursor">The cursor.</param>
    /// <returns>Whether the text was a cursor.</returns>
    public static bool TryParse(string? text, out EventCursor cursor)
    {
        cursor = default;
        string[] parts = (text ?? string.Empty).Split('-');
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
        {
            cursor = new EventCursor(ticks, sequence);
            return true;
        }

        return false;
    }
}
