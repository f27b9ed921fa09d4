using System.Text.Json;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Tests;

/// <summary>The collector over real HTTP on each store: reads page and stream, statistics, configuration checks.</summary>
public sealed class StorageOverHttpTests(PostgreSqlServer server)
{
    public static TheoryData<StorageProvider> Providers => [StorageProvider.Sqlite, StorageProvider.PostgreSql];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private async Task<TestCollector> StartAsync(StorageProvider provider, Action<CollectorOptions>? configure = null)
    {
        string? connectionString = provider == StorageProvider.PostgreSql ? await server.CreateDatabaseAsync() : null;
        return await TestCollector.StartAsync(options =>
        {
            options.Storage = new StorageOptions { Provider = provider, ConnectionString = connectionString };
            configure?.Invoke(options);
        });
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Uploaded_events_are_read_back_page_by_page_newest_first_and_counted(StorageProvider provider)
    {
        await using TestCollector collector = await StartAsync(provider);
        Guid[] ids = [.. Enumerable.Range(0, 25).Select(_ => Guid.NewGuid())];
        string[] events = [.. ids.Select((id, i) => TestCollector.Event(id, type: i % 5 == 0 ? "notebook" : "cell", timestamp: $"2026-11-29T12:{i:00}:00Z"))];
        using (HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(events)))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        using (HttpResponseMessage again = await collector.PostAsync("/logs/batch", TestCollector.Batch(events[..10])))
        {
            Assert.Equal(10, (await TestCollector.JsonOf(again)).GetProperty("accepted").GetInt32()); // duplicates are accepted, not stored
        }

        var read = new List<Guid>();
        string? cursor = null;
        do
        {
            string url = "/logs?type=cell&limit=7" + (cursor is null ? string.Empty : "&cursor=" + cursor);
            JsonElement page = await TestCollector.JsonOf(await collector.Client.GetAsync(url, Token));
            read.AddRange(page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(ids.Where((_, i) => i % 5 != 0).Reverse(), read);
        JsonElement stats = await TestCollector.JsonOf(await collector.Client.GetAsync("/stats", Token));
        Assert.Equal(25, stats.GetProperty("total").GetInt64());
        Assert.Equal(5, stats.GetProperty("by_type").GetProperty("notebook").GetInt64());
        Assert.Equal("2026-11-29T12:24:00+00:00", stats.GetProperty("last_timestamp").GetString());
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_large_page_is_streamed_row_by_row_and_concurrent_readers_each_get_all_of_it(StorageProvider provider)
    {
        await using TestCollector collector = await StartAsync(provider);
        string padding = new('x', 60_000);
        for (int request = 0; request < 10; request++)
        {
            string[] events = [.. Enumerable.Range(0, 15).Select(i => TestCollector.Event(Guid.NewGuid(), data: $$"""{"i":{{request * 15 + i}},"pad":"{{padding}}"}"""))];
            using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(events));
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        HttpResponseMessage[] answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            collector.Client.GetAsync("/logs?limit=1000", HttpCompletionOption.ResponseHeadersRead, Token)));
        foreach (HttpResponseMessage answer in answers)
        {
            using (answer)
            {
                Assert.Null(answer.Content.Headers.ContentLength); // written as read (chunked), not built in memory first
                JsonElement page = await TestCollector.JsonOf(answer);
                Assert.Equal(150, page.GetProperty("events").GetArrayLength());
                Assert.Equal(JsonValueKind.Null, page.GetProperty("next_cursor").ValueKind);
                Assert.Equal(
                    Enumerable.Range(0, 150),
                    page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("data").GetProperty("i").GetInt32()).Order());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Empty_context_names_and_values_are_stored_as_empty_text_and_read_back(StorageProvider provider)
    {
        // An empty string is valid context: bound as text of length 0 (not as SQL NULL, which a NOT NULL column refuses,
        // failing the whole commit with 503 on every retry).
        await using TestCollector collector = await StartAsync(provider);
        Guid id = Guid.NewGuid();
        string withEmpty = TestCollector.Event(id)[..^1] + ",\"context\":{\"user\":\"\",\"\":\"x\"}}";
        using (HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(withEmpty, TestCollector.Event(Guid.NewGuid()))))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(2, (await TestCollector.JsonOf(response)).GetProperty("accepted").GetInt32());
        }

        JsonElement page = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs?limit=10", Token));
        JsonElement stored = Assert.Single(page.GetProperty("events").EnumerateArray(), e => e.GetProperty("id").GetGuid() == id);
        Assert.Equal(string.Empty, stored.GetProperty("context").GetProperty("user").GetString());
        Assert.Equal("x", stored.GetProperty("context").GetProperty(string.Empty).GetString());
    }

    [Fact]
    public async Task PostgreSql_without_a_connection_string_fails_the_start_and_says_what_to_set()
    {
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestCollector.StartAsync(options =>
            options.Storage = new StorageOptions { Provider = StorageProvider.PostgreSql }));
        Assert.Contains("Collector:Storage:ConnectionString is required", error.Message);
    }

    [Fact]
    public async Task A_malformed_connection_string_fails_the_start_and_names_the_setting()
    {
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestCollector.StartAsync(options =>
            options.Storage = new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = "Hots=nowhere;Prot=1" }));
        Assert.Contains("Collector:Storage:ConnectionString is not a valid PostgreSql connection string", error.Message);
    }

    [Theory]
    [InlineData(0, "Host=db", "Collector:Storage:PostgreSqlWriters must be between 1 and 32; got 0.")]
    [InlineData(33, "Host=db", "Collector:Storage:PostgreSqlWriters must be between 1 and 32; got 33.")]
    [InlineData(4, "Host=db;Maximum Pool Size=4", "allows 4 pooled connections ('Maximum Pool Size'), which the 4 writers")]
    public async Task PostgreSQL_writers_out_of_range_or_beyond_the_pool_fail_the_start_and_name_the_setting(int writers, string connectionString, string message)
    {
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestCollector.StartAsync(options =>
            options.Storage = new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = connectionString, PostgreSqlWriters = writers }));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Storage_settings_bind_from_configuration()
    {
        IConfigurationRoot configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Collector:Storage:Provider"] = "PostgreSql",
            ["Collector:Storage:ConnectionString"] = "Host=db;Database=events",
            ["Collector:Storage:MaxEventsPerCommit"] = "5000",
            ["Collector:Storage:PostgreSqlWriters"] = "3",
        }).Build();
        var options = new CollectorOptions();
        configuration.GetSection(CollectorOptions.SectionName).Bind(options);
        Assert.Equal(StorageProvider.PostgreSql, options.Storage.Provider);
        Assert.Equal("Host=db;Database=events", options.Storage.ConnectionString);
        Assert.Equal(5000, options.Storage.MaxEventsPerCommit);
        Assert.Equal(3, options.Storage.PostgreSqlWriters);
        Assert.Empty(options.Storage.Validate());
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_page_larger_than_one_read_chunk_is_whole_in_order_and_pages_on(StorageProvider provider)
    {
        // 12 events of ~60 KB with one timestamp (ties broken by sequence): a page of 10 spans several reads of the store,
        // each closed before its rows are written, continued from the last row written.
        await using TestCollector collector = await StartAsync(provider);
        string blob = new('x', 60_000);
        Guid[] ids = [.. Enumerable.Range(0, 12).Select(_ => Guid.NewGuid())];
        Assert.True(10 * blob.Length > 2 * Ingest.EventPageResult.ChunkBytes);
        using (HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch([.. ids.Select(id => TestCollector.Event(id, data: "{\"blob\":\"" + blob + "\"}"))])))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        JsonElement first = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs?limit=10", Token));
        string cursor = first.GetProperty("next_cursor").GetString()!;
        JsonElement second = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs?limit=10&cursor=" + cursor, Token));

        Guid[] read = [.. first.GetProperty("events").EnumerateArray().Concat(second.GetProperty("events").EnumerateArray()).Select(e => e.GetProperty("id").GetGuid())];
        Assert.Equal(10, first.GetProperty("events").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(ids.Order(), read.Order()); // each once, none missing (PostgreSQL stores a batch in id order, so sequence order is not upload order)
        Assert.All(first.GetProperty("events").EnumerateArray(), e => Assert.Equal(blob.Length, e.GetProperty("data").GetProperty("blob").GetString()!.Length));
    }
}
