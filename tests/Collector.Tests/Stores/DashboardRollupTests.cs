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
    public void The_validator_hands_over_the_string_context_fields()
    {
        string json = TestCollector.Event(Guid.CreateVersion7()).Replace("\"data\":", "\"context\":{\"net_id\":\"ab12\",\"gone\":null},\"data\":", StringComparison.Ordinal);
        using var document = System.Text.Json.JsonDocument.Parse(json);

        Assert.True(Ingest.EventValidator.TryValidate(document.RootElement, 65536, 32, out StoredEvent? stored, out string? reason), reason);
        Assert.Equal([new KeyValuePair<string, string>("net_id", "ab12")], stored!.Context!);
    }
}
