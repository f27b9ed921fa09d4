using System.Data.Common;

namespace Instrumentation.Collector.Storage;

/// <summary>Turns the rows of a counts table (type, priority, count, first_ticks, last_ticks) into <see cref="StoreStatistics"/>.</summary>
internal static class StatisticsReader
{
    public static async Task<StoreStatistics> ReadAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var byType = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var byPriority = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        long first = long.MaxValue, last = long.MinValue;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string type = reader.GetString(0);
            string priority = reader.GetString(1);
            long count = reader.GetInt64(2);
            total += count;
            byType[type] = byType.GetValueOrDefault(type) + count;
            byPriority[priority] = byPriority.GetValueOrDefault(priority) + count;
            first = Math.Min(first, reader.GetInt64(3));
            last = Math.Max(last, reader.GetInt64(4));
        }

        return total == 0
            ? new StoreStatistics(0, byType, byPriority, null, null)
            : new StoreStatistics(total, byType, byPriority, new DateTimeOffset(first, TimeSpan.Zero), new DateTimeOffset(last, TimeSpan.Zero));
    }
}
