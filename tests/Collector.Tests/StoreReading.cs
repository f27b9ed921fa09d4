using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests;

/// <summary>Reads a whole store back, for tests that check what was stored.</summary>
internal static class StoreReading
{
    /// <summary>Every stored event's JSON, newest first.</summary>
    public static async Task<List<string>> ReadAllAsync(this IEventStore store, string? type = null)
    {
        var events = new List<string>();
        await foreach (EventRow row in store.ReadAsync(new EventQuery { Type = type, Limit = int.MaxValue - 1 }, CancellationToken.None))
        {
            events.Add(row.Json);
        }

        return events;
    }

    /// <summary>Every stored id with how many stored rows carry it (each must be 1 for exactly-once).</summary>
    public static async Task<IReadOnlyDictionary<Guid, long>> CountByIdAsync(this IEventStore store)
    {
        var ids = new Dictionary<Guid, long>();
        foreach (string json in await store.ReadAllAsync())
        {
            Guid id = Guid.Parse(JsonDocument.Parse(json).RootElement.GetProperty("id").GetString()!);
            ids[id] = ids.GetValueOrDefault(id) + 1;
        }

        return ids;
    }

    public static Task<StoreStatistics> StatisticsAsync(this IEventStore store) => store.GetStatisticsAsync(CancellationToken.None);
}
