using System.Net;
using System.Text;
using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The poison inputs of the issue in one batch, on SQLite and on a real PostgreSQL: the rejected ones are not stored, the
/// accepted ones (escapes PostgreSQL text could trip on, characters outside the BMP) are stored and read back whole.
/// </summary>
public sealed class PoisonOnEachStoreTests(PostgreSqlServer server)
{
    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Poison_events_are_rejected_and_everything_stored_reads_back(StorageProvider provider)
    {
        string? connectionString = provider == StorageProvider.PostgreSql ? await server.CreateDatabaseAsync() : null;
        await using TestCollector collector = await TestCollector.StartAsync(options =>
            options.Storage = new StorageOptions { Provider = provider, ConnectionString = connectionString });
        string deep = string.Concat(Enumerable.Repeat("[", 60)) + "1" + string.Concat(Enumerable.Repeat("]", 60));
        string[] accepted =
        [
            TestCollector.Event(Guid.CreateVersion7()),
            InputTests.Raw(data: "{\"nul\":\"a\\u0000b\",\"emoji\":\"\\ud83d\\ude00\",\"raw\":\"\U0001F600\"}"),
            InputTests.Raw(type: "cell\U0001F600"),
            InputTests.Raw(timestamp: "2026-11-29T13:00:00.1234567+01:00"),
        ];
        string[] rejected =
        [
            InputTests.Raw(data: "{\"text\":\"\\ud800\"}"),
            InputTests.Raw(type: "cell\\u0000"),
            InputTests.Raw(data: "{\"deep\":" + deep + "}"),
            InputTests.Raw(data: "{\"x\":1,\"x\":2}"),
            InputTests.Raw(data: "{\"bytes\":\"@\"}"),
            InputTests.Raw(extra: ",\"context\":{\"net_id\":\"a\\u0000b\"}"), // PostgreSQL text (the rollups) cannot hold it
            InputTests.Raw(extra: ",\"context\":{\"net\\u0000id\":\"ab\"}"),
        ];
        string text = TestCollector.Batch([.. accepted, .. rejected]);
        int at = text.IndexOf('@', StringComparison.Ordinal);
        byte[] body = [.. Encoding.UTF8.GetBytes(text[..at]), 0xC3, 0x28, .. Encoding.UTF8.GetBytes(text[(at + 1)..])];

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using HttpResponseMessage response = await collector.Client.PostAsync("/logs/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement answer = await TestCollector.JsonOf(response);
        Assert.Equal(accepted.Length, answer.GetProperty("accepted").GetInt32());
        Assert.Equal(
            Enumerable.Range(accepted.Length, rejected.Length),
            answer.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(accepted.Length, await InputTests.ReadBackAsync(collector));

        JsonElement page = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs", TestContext.Current.CancellationToken));
        JsonElement[] events = [.. page.GetProperty("events").EnumerateArray()];
        JsonElement withEscapes = events.Single(e => e.GetProperty("data").TryGetProperty("nul", out _)).GetProperty("data");
        Assert.Equal("a\0b", withEscapes.GetProperty("nul").GetString());
        Assert.Equal("\U0001F600", withEscapes.GetProperty("emoji").GetString());
        Assert.Equal("\U0001F600", withEscapes.GetProperty("raw").GetString());
        JsonElement stats = await TestCollector.JsonOf(await collector.Client.GetAsync("/stats", TestContext.Current.CancellationToken));
        Assert.Equal(1, stats.GetProperty("by_type").GetProperty("cell\U0001F600").GetInt64());

        // A filter holding U+0000 matches nothing (PostgreSQL refuses it as a text parameter: this was a 500).
        using HttpResponseMessage filtered = await collector.Client.GetAsync("/logs?type=cell%00", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, filtered.StatusCode);
        Assert.Empty((await TestCollector.JsonOf(filtered)).GetProperty("events").EnumerateArray());
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Timestamps_at_the_ends_of_the_range_are_stored_and_read_back(StorageProvider provider)
    {
        string? connectionString = provider == StorageProvider.PostgreSql ? await server.CreateDatabaseAsync() : null;
        await using TestCollector collector = await TestCollector.StartAsync(options =>
            options.Storage = new StorageOptions { Provider = provider, ConnectionString = connectionString });
        string[] events =
        [
            InputTests.Raw(timestamp: "0001-01-01T00:00:00Z"),
            InputTests.Raw(timestamp: "9999-12-31T23:59:59.9999999Z"),
            InputTests.Raw(timestamp: "9999-12-31T23:59:59.99999995Z"),
            InputTests.Raw(timestamp: "0001-01-01T14:00:00+14:00"),
        ];

        using var content = new StringContent(TestCollector.Batch(events), Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await collector.Client.PostAsync("/logs/batch", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(events.Length, (await TestCollector.JsonOf(response)).GetProperty("accepted").GetInt32());
        using HttpResponseMessage read = await collector.Client.GetAsync("/logs?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.9999999Z", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(events.Length - 2, (await TestCollector.JsonOf(read)).GetProperty("events").GetArrayLength()); // until is exclusive
        JsonElement stats = await TestCollector.JsonOf(await collector.Client.GetAsync("/stats", TestContext.Current.CancellationToken));
        Assert.Equal(events.Length, stats.GetProperty("total").GetInt64());
    }
}
