using System.Net;
using System.Text.Json;

namespace Instrumentation.Collector.Tests;

/// <summary>Every answer of the ingest and read endpoints, over real HTTP, with a real SQLite file.</summary>
public class EndpointTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Single_event_is_stored()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var id = Guid.CreateVersion7();

        using HttpResponseMessage response = await collector.PostAsync("/logs", TestCollector.Event(id, priority: "immediate"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await TestCollector.JsonOf(response)).GetProperty("accepted").GetInt32());
        Assert.Equal(1, (await collector.Running.Store.CountByIdAsync())[id]);
    }

    [Fact]
    public async Task Partial_batch_stores_the_valid_events_and_rejects_the_others_with_reasons()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o => o.MaxEventBytes = 300);
        Guid good1 = Guid.CreateVersion7(), good2 = Guid.CreateVersion7(), noTimestamp = Guid.CreateVersion7();
        string batch = TestCollector.Batch(
            TestCollector.Event(good1),
            TestCollector.Event(null),
            TestCollector.Event(noTimestamp, timestamp: null),
            TestCollector.Event(Guid.CreateVersion7(), type: ""),
            "\"not an object\"",
            TestCollector.Event(Guid.CreateVersion7(), data: "[1,2]"),
            TestCollector.Event(Guid.CreateVersion7(), data: "{\"text\":\"" + new string('x', 400) + "\"}"),
            TestCollector.Event(Guid.CreateVersion7(), timestamp: "yesterday"),
            TestCollector.Event(good2));

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", batch);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement answer = await TestCollector.JsonOf(response);
        Assert.Equal(2, answer.GetProperty("accepted").GetInt32());
        JsonElement[] rejected = [.. answer.GetProperty("rejected").EnumerateArray()];
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], rejected.Select(r => r.GetProperty("index").GetInt32()));
        Assert.All(rejected, r => Assert.False(r.GetProperty("retryable").GetBoolean()));
        Assert.Contains("'id'", rejected[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("'timestamp'", rejected[1].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(noTimestamp.ToString(), rejected[1].GetProperty("id").GetString());
        Assert.Contains("larger than 300 bytes", rejected[5].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(new[] { good1, good2 }.Order(), (await collector.Running.Store.CountByIdAsync()).Keys.Order());
    }

    [Fact]
    public async Task Repeated_ids_count_as_accepted_and_are_stored_once()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var id = Guid.CreateVersion7();

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(id), TestCollector.Event(id)));
            Assert.Equal(2, (await TestCollector.JsonOf(response)).GetProperty("accepted").GetInt32());
        }

        Assert.Equal(1, Assert.Single(await collector.Running.Store.CountByIdAsync()).Value);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"items\":[]}")]
    [InlineData("{\"events\":{}}")]
    public async Task Body_that_is_not_a_batch_is_400_with_a_problem_description(string body)
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(string.IsNullOrEmpty((await TestCollector.JsonOf(response)).GetProperty("detail").GetString()));
        Assert.Empty(await collector.Running.Store.CountByIdAsync());
    }

    [Fact]
    public async Task Wrong_content_type_is_415()
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs", TestCollector.Event(Guid.CreateVersion7()), contentType: "text/plain");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Gzip_bodies_are_decompressed_and_a_bad_gzip_stream_is_400()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var id = Guid.CreateVersion7();

        using HttpResponseMessage good = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(id)), gzip: true);
        using var bad = new HttpRequestMessage(HttpMethod.Post, "/logs/batch") { Content = new ByteArrayContent("this is not gzip"u8.ToArray()) };
        bad.Content.Headers.ContentType = new("application/json");
        bad.Content.Headers.ContentEncoding.Add("gzip");
        using HttpResponseMessage badResponse = await collector.Client.SendAsync(bad, Cancel);

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(1, (await collector.Running.Store.CountByIdAsync())[id]);
        Assert.Equal(HttpStatusCode.BadRequest, badResponse.StatusCode);
    }

    [Fact]
    public async Task Limits_answer_413()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.MaxRequestBytes = 4_000;
            o.MaxEventsPerBatch = 3;
            o.MaxEventBytes = 500;
        });

        using HttpResponseMessage tooMany = await collector.PostAsync("/logs/batch", TestCollector.Batch(Enumerable.Range(0, 4).Select(_ => TestCollector.Event(Guid.CreateVersion7())).ToArray()));
        using HttpResponseMessage tooBig = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7(), data: "{\"t\":\"" + new string('x', 5_000) + "\"}")));
        using HttpResponseMessage tooBigAfterGzip = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7(), data: "{\"t\":\"" + new string('x', 50_000) + "\"}")), gzip: true);
        using HttpResponseMessage singleTooBig = await collector.PostAsync("/logs", TestCollector.Event(Guid.CreateVersion7(), data: "{\"t\":\"" + new string('x', 1_000) + "\"}"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMany.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBigAfterGzip.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, singleTooBig.StatusCode);
        Assert.Empty(await collector.Running.Store.CountByIdAsync());

        using HttpResponseMessage stillServing = await collector.PostAsync("/logs", TestCollector.Event(Guid.CreateVersion7()));
        Assert.Equal(HttpStatusCode.OK, stillServing.StatusCode);
    }

    [Fact]
    public async Task Api_keys_are_required_when_configured()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o => o.ApiKeys = ["key-one-0123456789", "key-two-0123456789"]);
        string body = TestCollector.Event(Guid.CreateVersion7());

        using HttpResponseMessage missing = await collector.PostAsync("/logs", body);
        using HttpResponseMessage wrong = await collector.PostAsync("/logs", body, apiKey: "key-thr-0123456789");
        using HttpResponseMessage right = await collector.PostAsync("/logs", body, apiKey: "key-two-0123456789");
        using HttpResponseMessage health = await collector.Client.GetAsync("/health", Cancel);

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Single(await collector.Running.Store.CountByIdAsync());
    }

    [Fact]
    public async Task Concurrent_writers_store_every_event_once()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        Guid[] ids = [.. Enumerable.Range(0, 400).Select(_ => Guid.CreateVersion7())];

        // 8 writers, overlapping: every id is sent by two of them.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async writer =>
        {
            for (int chunk = 0; chunk < 10; chunk++)
            {
                IEnumerable<Guid> slice = ids.Skip(((writer % 4) * 100) + (chunk * 10)).Take(10);
                using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(slice.Select(id => TestCollector.Event(id)).ToArray()));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }));

        IReadOnlyDictionary<Guid, long> stored = await collector.Running.Store.CountByIdAsync();
        Assert.Equal(ids.Order(), stored.Keys.Order());
        Assert.All(stored.Values, count => Assert.Equal(1, count));
    }

    [Fact]
    public async Task Read_side_pages_newest_first_filters_and_reports_stats()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var events = Enumerable.Range(0, 5).Select(i => TestCollector.Event(Guid.CreateVersion7(), type: i % 2 == 0 ? "cell" : "notebook", timestamp: $"2026-11-29T12:00:0{i}.0000000Z", priority: i % 2 == 0 ? "batch" : "immediate")).ToArray();
        using (await collector.PostAsync("/logs/batch", TestCollector.Batch(events)))
        {
        }

        JsonElement first = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs?type=cell&limit=2", Cancel));
        string cursor = first.GetProperty("next_cursor").GetString()!;
        JsonElement second = await TestCollector.JsonOf(await collector.Client.GetAsync($"/logs?type=cell&limit=2&cursor={cursor}", Cancel));
        JsonElement ranged = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs?since=2026-11-29T12:00:01Z&until=2026-11-29T12:00:03Z", Cancel));
        JsonElement stats = await TestCollector.JsonOf(await collector.Client.GetAsync("/stats", Cancel));
        using HttpResponseMessage badLimit = await collector.Client.GetAsync("/logs?limit=0", Cancel);

        Assert.Equal(["12:00:04", "12:00:02"], first.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("timestamp").GetString()![11..19]));
        Assert.Equal(["12:00:00"], second.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("timestamp").GetString()![11..19]));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(2, ranged.GetProperty("events").GetArrayLength());
        Assert.Equal(5, stats.GetProperty("total").GetInt64());
        Assert.Equal(3, stats.GetProperty("by_type").GetProperty("cell").GetInt64());
        Assert.Equal(2, stats.GetProperty("by_priority").GetProperty("immediate").GetInt64());
        Assert.StartsWith("2026-11-29T12:00:00", stats.GetProperty("first_timestamp").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("2026-11-29T12:00:04", stats.GetProperty("last_timestamp").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }
}
