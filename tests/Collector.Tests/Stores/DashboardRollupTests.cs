using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Rollups;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>The rollups of an event are the same whether the validator hands over its context fields or the writer reads them from the JSON.</summary>
public sealed class DashboardRollupTests
{
    [Fact]
    public void Context_handed_over_and_context_read_from_the_json_give_the_same_sums()
    {
        const string Context = """{"net_id":"ab12","course_id":"cs\u00e9101","empty":"","missing":null}""";
        StoredEvent parsed = EventStoreContract.Event(context: Context);
        StoredEvent handedOver = parsed with { Context = [new("net_id", "ab12"), new("course_id", "cs\u00e9101"), new("empty", "")] };

        var fromJson = new DashboardRollup();
        fromJson.Add(parsed);
        var fromFields = new DashboardRollup();
        fromFields.Add(handedOver);

        Assert.Equal(3, fromJson.ContextRows.Count);
        Assert.Equal(fromJson.ContextRows, fromFields.ContextRows);
        Assert.Equal(fromJson.ContextMinutes, fromFields.ContextMinutes);
        Assert.Equal(fromJson.ValueTypes, fromFields.ValueTypes);
        Assert.Equal(fromJson.Values.Keys, fromFields.Values.Keys);
    }

    [Fact]
    public void A_handed_over_context_that_names_a_key_twice_counts_its_first_value_once()
    {
        // The validator refuses JSON that names a member twice, but a caller of the store may hand over such a list: the
        // PostgreSQL store inserts one context index row per key and event, with no conflict clause.
        StoredEvent item = EventStoreContract.Event(context: """{"net_id":"a","course":"x"}""") with
        {
            Context = [new("net_id", "a"), new("course", "x"), new("net_id", "a"), new("net_id", "b")],
        };

        var rollup = new DashboardRollup();
        rollup.Add(item);
        rollup.Add(item with { Context = [new("net_id", "a")] });

        Assert.Equal([("net_id", "a", item.Timestamp.UtcTicks, 0), ("course", "x", item.Timestamp.UtcTicks, 0), ("net_id", "a", item.Timestamp.UtcTicks, 1)], rollup.ContextRows);
        Assert.Equal(2, rollup.Values[("net_id", "a")].Events);
        Assert.False(rollup.Values.ContainsKey(("net_id", "b")));
        Assert.Equal(2, rollup.ValueTypes[("net_id", "a", "cell")]);
    }

    [Fact]
    public void Sums_made_per_batch_and_added_together_equal_sums_made_per_event()
    {
        // What the SQLite writer does with batches prepared on the request threads (PreparedBatch), against what it does per event.
        DateTimeOffset t0 = EventStoreContract.T0;
        StoredEvent[][] batches =
        [
            [EventStoreContract.Event(at: t0, context: """{"net_id":"a","course":"x"}"""), EventStoreContract.Event(type: "focus", at: t0.AddSeconds(70), context: """{"net_id":"a"}""")],
            [EventStoreContract.Event(priority: "immediate", at: t0.AddMinutes(-3), context: """{"net_id":"b","course":"x"}"""), EventStoreContract.Event(at: t0.AddSeconds(5), context: """{"net_id":"a"}""")],
            [],
            [EventStoreContract.Event(at: t0.AddHours(2), context: "{}")],
        ];

        var perEvent = new DashboardRollup();
        var perEventCounts = new CountTally();
        var merged = new DashboardRollup();
        var mergedCounts = new CountTally();
        foreach (StoredEvent[] batch in batches)
        {
            var batchSums = new DashboardRollup();
            var batchCounts = new CountTally();
            foreach (StoredEvent item in batch)
            {
                perEvent.Add(item);
                perEventCounts.Add(item);
                batchSums.Add(item);
                batchCounts.Add(item);
            }

            merged.Add(batchSums);
            mergedCounts.Add(batchCounts);
        }

        Assert.Equal(perEvent.Minutes.OrderBy(p => p.Key), merged.Minutes.OrderBy(p => p.Key));
        Assert.Equal(perEvent.ContextRows, merged.ContextRows);
        Assert.Equal(perEvent.ContextMinutes.OrderBy(p => p.Key), merged.ContextMinutes.OrderBy(p => p.Key));
        Assert.Equal(perEvent.ValueTypes.OrderBy(p => p.Key), merged.ValueTypes.OrderBy(p => p.Key));
        Assert.Equal(
            perEvent.Values.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.Events, p.Value.FirstTicks, p.Value.LastTicks)),
            merged.Values.OrderBy(p => p.Key).Select(p => (p.Key, p.Value.Events, p.Value.FirstTicks, p.Value.LastTicks)));
        Assert.Equal(perEventCounts.Ordered(), mergedCounts.Ordered());
        Assert.Equal(3, merged.Values[("net_id", "a")].Events);
    }

    [Fact]
    public void The_validator_hands_over_the_string_context_fields()
    {
        string json = TestCollector.Event(Guid.CreateVersion7()).Replace("\"data\":", "\"context\":{\"net_id\":\"ab12\",\"gone\":null},\"data\":", StringComparison.Ordinal);
        using var document = System.Text.Json.JsonDocument.Parse(json);

        Assert.True(Ingest.EventValidator.TryValidate(document.RootElement, 65536, 32, out StoredEvent? stored, out string? reason), reason);
        Assert.Equal([new KeyValuePair<string, string>("net_id", "ab12")], stored!.Context!);
    }
}
