using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// What every <see cref="IEventStore"/> promises, run against each implementation on a real database (a SQLite file,
/// a PostgreSQL server): dedup by id, per-event outcomes, filters and paging, statistics from the counts table, time
/// buckets, schema versioning.
/// </summary>
public abstract class EventStoreContract : IAsyncLifetime
{
    protected internal static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private readonly List<IEventStore> _stores = [];

    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (IEventStore store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    /// <summary>A new store over this test's database (the same database on every call), not yet initialized.</summary>
    protected abstract IEventStore CreateStore(StorageOptions options, TimeProvider? timeProvider = null);

    /// <summary>The stored <c>received_at</c> of the event with this id, read behind the store's back.</summary>
    protected abstract Task<DateTimeOffset> ReadReceivedAtAsync(Guid id);

    /// <summary>Sets the database's schema version as a newer collector would.</summary>
    protected abstract Task SetSchemaVersionAsync(int version);

    /// <summary>Deletes every row of the events table behind the store's back (the counts table stays).</summary>
    protected abstract Task DeleteEventRowsAsync();

    protected async Task<IEventStore> OpenAsync(StorageOptions? options = null, TimeProvider? timeProvider = null)
    {
        IEventStore store = CreateStore(options ?? new StorageOptions(), timeProvider);
        _stores.Add(store);
        await store.InitializeAsync(Token);
        return store;
    }

    [Fact]
    public async Task Received_at_comes_from_the_injected_clock()
    {
        var received = new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(1230);
        IEventStore store = await OpenAsync(timeProvider: new Microsoft.Extensions.Time.Testing.FakeTimeProvider(received));
        StoredEvent item = Event();
        Assert.Equal(1, (await store.InsertAsync([item], Token)).NewCount);
        DateTimeOffset stored = await ReadReceivedAtAsync(item.Id);
        Assert.Equal(received.UtcTicks / 10, stored.UtcTicks / 10); // PostgreSQL keeps microseconds
    }

    internal static StoredEvent Event(Guid? id = null, string type = "cell", string priority = "batch", DateTimeOffset? at = null, string context = """{"net_id":"ab12"}""", string data = """{"notebook_id":"nb-1"}""")
    {
        Guid eventId = id ?? Guid.NewGuid();
        DateTimeOffset when = at ?? T0;
        string json = $$"""{"id":"{{eventId}}","type":"{{type}}","priority":"{{priority}}","timestamp":"{{when.UtcDateTime:O}}","context":{{context}},"data":{{data}}}""";
        return new StoredEvent(eventId, type, priority, when, json);
    }

    private static async Task<List<EventRow>> ReadAsync(IEventStore store, EventQuery query)
    {
        var rows = new List<EventRow>();
        await foreach (EventRow row in store.ReadAsync(query, Token))
        {
            rows.Add(row);
        }

        return rows;
    }

    private static Guid IdOf(EventRow row) => Guid.Parse(JsonDocument.Parse(row.Json).RootElement.GetProperty("id").GetString()!);

    [Fact]
    public async Task Events_given_as_UTF_8_slices_are_stored_and_read_back_exactly_with_their_context()
    {
        // As the collector's ingest hands them over: slices of one buffer (the request body), not copies, with non-ASCII text.
        IEventStore store = await OpenAsync();
        StoredEvent[] strings = [Event(context: """{"net_id":"\u00e9t\u00e9","course":"café 😀"}""", data: """{"text":"naïve 😀 \"q\""}"""), Event(), Event(type: "tést")];
        byte[] body = System.Text.Encoding.UTF8.GetBytes("{\"events\":[" + string.Join(",", strings.Select(e => e.Json)) + "]}");
        var slices = new List<StoredEvent>();
        int at = "{\"events\":[".Length;
        foreach (StoredEvent e in strings)
        {
            int length = System.Text.Encoding.UTF8.GetByteCount(e.Json);
            slices.Add(new StoredEvent(e.Id, e.Type, e.Priority, e.Timestamp, body.AsMemory(at, length)));
            at += length + 1;
        }

        Assert.Equal(3, (await store.InsertAsync(slices, Token)).NewCount);

        List<EventRow> rows = await ReadAsync(store, new EventQuery { Limit = 100 });
        foreach (StoredEvent e in strings)
        {
            Assert.Equal(e.Json, rows.Single(r => IdOf(r) == e.Id).Json);
        }

        Assert.Equal(1, (await store.GetStatisticsAsync(Token)).ByType["tést"]);
        List<EventRow> byContext = await ReadAsync(store, new EventQuery { Limit = 100, Context = new Dictionary<string, string> { ["course"] = "café 😀" } });
        Assert.Equal(strings[0].Id, IdOf(Assert.Single(byContext)));
        Assert.Equal(0, (await store.InsertAsync([strings[1]], Token)).NewCount); // the same id given as a string is a duplicate
    }

    [Fact]
    public async Task A_handed_over_context_that_names_a_key_twice_is_stored_with_its_first_value()
    {
        // The PostgreSQL store inserts its context index rows without a conflict clause: a key named twice with the same
        // value would be the same row twice and fail the commit, so the rollup keeps each key's first value only.
        IEventStore store = await OpenAsync();
        StoredEvent item = Event(context: """{"net_id":"a"}""") with { Context = [new("net_id", "a"), new("net_id", "a"), new("net_id", "b")] };
        Assert.Equal(2, (await store.InsertAsync([item, Event()], Token)).NewCount);
        Assert.Equal(2, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Equal([item.Id], (await ReadAsync(store, new EventQuery { Limit = 100, Context = new Dictionary<string, string> { ["net_id"] = "a" } })).Select(IdOf));
    }

    [Fact]
    public async Task Empty_strings_are_stored_as_empty_text()
    {
        // An empty context value (and name) is text like any other, in the events and in the dashboard's context index.
        IEventStore store = await OpenAsync();
        StoredEvent item = Event(context: """{"empty":"","":"nameless"}""");
        Assert.Equal(1, (await store.InsertAsync([item with { Context = [new("empty", ""), new("", "nameless")] }], Token)).NewCount);
        Assert.Equal(1, (await store.InsertAsync([Event(context: """{"empty":""}""")], Token)).NewCount);

        List<EventRow> rows = await ReadAsync(store, new EventQuery { Limit = 100, Context = new Dictionary<string, string> { ["empty"] = "" } });
        Assert.Equal(2, rows.Count);
        Assert.Equal(item.Json, rows.Single(r => IdOf(r) == item.Id).Json);
    }

    [Fact]
    public async Task Insert_reports_each_event_as_new_or_duplicate_and_stores_each_id_once()
    {
        IEventStore store = await OpenAsync();
        StoredEvent a = Event(), b = Event(), c = Event();

        InsertResult first = await store.InsertAsync([a, b, a], Token);
        Assert.Equal([true, true, false], Enumerable.Range(0, 3).Select(first.IsNew));
        Assert.Equal(2, first.NewCount);
        Assert.Equal(1, first.DuplicateCount);

        InsertResult second = await store.InsertAsync([b, c], Token);
        Assert.False(second.IsNew(0));
        Assert.True(second.IsNew(1));

        List<EventRow> rows = await ReadAsync(store, new EventQuery { Limit = 100 });
        Assert.Equal(new[] { a.Id, b.Id, c.Id }.Order(), rows.Select(IdOf).Order());
        Assert.Equal(a.Json, rows.Single(r => IdOf(r) == a.Id).Json);
        Assert.Equal(3, (await store.GetStatisticsAsync(Token)).Total);
    }

    [Fact]
    public async Task Concurrent_overlapping_batches_store_every_id_once_and_count_it_once()
    {
        IEventStore store = await OpenAsync(new StorageOptions { MaxEventsPerCommit = 300 });
        StoredEvent[] pool = [.. Enumerable.Range(0, 400).Select(i => Event(type: "t" + (i % 3), at: T0.AddSeconds(i)))];

        // 16 requests, each a window of 100 events over the pool: most ids arrive in several requests at once.
        InsertResult[] results = await Task.WhenAll(Enumerable.Range(0, 16).Select(r =>
            Task.Run(() => store.InsertAsync([.. pool.Skip(r * 20 % 300).Take(100)], Token))));

        int stored = (await ReadAsync(store, new EventQuery { Limit = 10_000 })).Select(IdOf).Distinct().Count();
        Assert.Equal(stored, (await ReadAsync(store, new EventQuery { Limit = 10_000 })).Count);
        Assert.Equal(stored, results.Sum(r => r.NewCount));
        StoreStatistics statistics = await store.GetStatisticsAsync(Token);
        Assert.Equal(stored, statistics.Total);
        Assert.Equal(stored, statistics.ByType.Values.Sum());
    }

    [Fact]
    public async Task Reads_filter_by_type_and_time_and_page_newest_first_with_a_cursor()
    {
        IEventStore store = await OpenAsync();
        StoredEvent[] events = [.. Enumerable.Range(0, 30).Select(i => Event(type: i % 2 == 0 ? "even" : "odd", at: T0.AddMinutes(i)))];
        await store.InsertAsync(events, Token);

        // Pages of 4 over "even" events between minute 4 (inclusive) and 24 (exclusive): 4, 6, …, 22 = 10 events.
        var seen = new List<Guid>();
        EventCursor? after = null;
        do
        {
            List<EventRow> page = await ReadAsync(store, new EventQuery { Type = "even", Since = T0.AddMinutes(4), Until = T0.AddMinutes(24), After = after, Limit = 4 });
            seen.AddRange(page.Select(IdOf));
            after = page.Count == 4 ? page[^1].Cursor : null;
        }
        while (after is not null);

        Guid[] expected = [.. events.Where((e, i) => i % 2 == 0 && i >= 4 && i < 24).Reverse().Select(e => e.Id)];
        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task Events_with_the_same_timestamp_page_without_gaps_or_repeats()
    {
        IEventStore store = await OpenAsync();
        StoredEvent[] events = [.. Enumerable.Range(0, 7).Select(_ => Event())];
        await store.InsertAsync(events, Token);

        List<EventRow> first = await ReadAsync(store, new EventQuery { Limit = 3 });
        List<EventRow> second = await ReadAsync(store, new EventQuery { Limit = 3, After = first[^1].Cursor });
        List<EventRow> third = await ReadAsync(store, new EventQuery { Limit = 3, After = second[^1].Cursor });
        Assert.Equal(events.Select(e => e.Id).Order(), first.Concat(second).Concat(third).Select(IdOf).Order());
    }

    [Fact]
    public async Task Cursor_pages_over_groups_of_equal_timestamps_give_every_event_once_newest_first()
    {
        // 4 timestamps x 5 events, stored one at a time with the timestamps interleaved (seq order is not time order), read
        // in pages of 3 whose cursors fall inside a group of equal timestamps and at its edges: the order is timestamp
        // descending, then seq descending, with no event skipped or repeated, with and without a type filter.
        IEventStore store = await OpenAsync();
        var stored = new List<(StoredEvent Event, int Order)>();
        for (int i = 0; i < 20; i++)
        {
            StoredEvent item = Event(type: i % 3 == 0 ? "three" : "other", at: T0.AddSeconds(i % 4));
            await store.InsertAsync([item], Token);
            stored.Add((item, i));
        }

        foreach (string? type in new[] { null, "other" })
        {
            var seen = new List<Guid>();
            EventCursor? after = null;
            do
            {
                List<EventRow> page = await ReadAsync(store, new EventQuery { Type = type, After = after, Limit = 3 });
                seen.AddRange(page.Select(IdOf));
                after = page.Count == 3 ? page[^1].Cursor : null;
            }
            while (after is not null);

            Guid[] expected = [.. stored.Where(s => type is null || s.Event.Type == type)
                .OrderByDescending(s => s.Event.Timestamp).ThenByDescending(s => s.Order).Select(s => s.Event.Id)];
            Assert.Equal(expected, seen);
        }
    }

    [Fact]
    public async Task Reads_filter_by_context_fields_and_by_text_in_data()
    {
        IEventStore store = await OpenAsync();
        StoredEvent alice = Event(context: """{"net_id":"alice","course":"cs101"}""", data: """{"cell":"import numpy"}""");
        StoredEvent bob = Event(context: """{"net_id":"bob","course":"cs101"}""", data: """{"cell":"print(1)"}""");
        StoredEvent none = Event(context: "{}", data: """{"cell":"import pandas"}""");
        await store.InsertAsync([alice, bob, none], Token);

        Assert.Equal([bob.Id], (await ReadAsync(store, new EventQuery { Context = new Dictionary<string, string> { ["net_id"] = "bob" } })).Select(IdOf));
        Assert.Equal(
            new[] { alice.Id, bob.Id }.Order(),
            (await ReadAsync(store, new EventQuery { Context = new Dictionary<string, string> { ["course"] = "cs101" } })).Select(IdOf).Order());
        Assert.Empty(await ReadAsync(store, new EventQuery { Context = new Dictionary<string, string> { ["course"] = "cs101", ["net_id"] = "carol" } }));
        Assert.Equal(
            new[] { alice.Id, none.Id }.Order(),
            (await ReadAsync(store, new EventQuery { DataContains = "import" })).Select(IdOf).Order());
        Assert.Equal([alice.Id], (await ReadAsync(store, new EventQuery { DataContains = "import", Context = new Dictionary<string, string> { ["net_id"] = "alice" } })).Select(IdOf));
        Assert.Empty(await ReadAsync(store, new EventQuery { DataContains = "'; DROP TABLE events; --" }));
    }

    [Fact]
    public async Task Statistics_count_new_events_only_per_type_and_priority_with_first_and_last_timestamps()
    {
        IEventStore store = await OpenAsync();
        Assert.Equal(new StoreStatistics(0, new Dictionary<string, long>(), new Dictionary<string, long>(), null, null).Total, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Null((await store.GetStatisticsAsync(Token)).FirstTimestamp);

        StoredEvent late = Event(type: "notebook", priority: "immediate", at: T0.AddHours(2));
        await store.InsertAsync([Event(at: T0), Event(at: T0.AddHours(1)), late], Token);
        await store.InsertAsync([late, Event(type: "notebook", priority: "immediate", at: T0.AddMinutes(-5))], Token);

        StoreStatistics statistics = await store.GetStatisticsAsync(Token);
        Assert.Equal(4, statistics.Total);
        Assert.Equal(2, statistics.ByType["cell"]);
        Assert.Equal(2, statistics.ByType["notebook"]);
        Assert.Equal(2, statistics.ByPriority["batch"]);
        Assert.Equal(2, statistics.ByPriority["immediate"]);
        Assert.Equal(T0.AddMinutes(-5), statistics.FirstTimestamp);
        Assert.Equal(T0.AddHours(2), statistics.LastTimestamp);
    }

    [Fact]
    public async Task Statistics_are_read_from_the_counts_table_not_computed_from_the_events()
    {
        IEventStore store = await OpenAsync();
        await store.InsertAsync([Event(), Event(type: "other")], Token);
        await DeleteEventRowsAsync();

        // Still 2: /stats never scans the events, so its cost does not grow with them.
        StoreStatistics statistics = await store.GetStatisticsAsync(Token);
        Assert.Equal(2, statistics.Total);
        Assert.Equal(1, statistics.ByType["other"]);
    }

    [Fact]
    public async Task Counts_per_time_bucket_and_type()
    {
        IEventStore store = await OpenAsync();
        await store.InsertAsync(
            [Event(type: "a", at: T0.AddSeconds(5)), Event(type: "a", at: T0.AddSeconds(59)), Event(type: "b", at: T0.AddSeconds(30)), Event(type: "a", at: T0.AddMinutes(2))],
            Token);

        var buckets = new List<EventCountBucket>();
        await foreach (EventCountBucket bucket in store.CountByTimeAsync(new EventCountQuery { BucketWidth = TimeSpan.FromMinutes(1) }, Token))
        {
            buckets.Add(bucket);
        }

        Assert.Equal(
            [new EventCountBucket(T0, "a", 2), new EventCountBucket(T0, "b", 1), new EventCountBucket(T0.AddMinutes(2), "a", 1)],
            buckets);
    }

    [Fact]
    public async Task An_insert_cancelled_before_it_is_queued_stores_nothing()
    {
        IEventStore store = await OpenAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.InsertAsync([Event()], cancelled.Token));
        Assert.Empty(await ReadAsync(store, new EventQuery()));
    }

    [Fact]
    public async Task Reopening_keeps_the_events_and_the_schema_version()
    {
        IEventStore first = await OpenAsync();
        StoredEvent kept = Event();
        await first.InsertAsync([kept], Token);
        await first.DisposeAsync();

        IEventStore second = await OpenAsync();
        Assert.Equal([kept.Id], (await ReadAsync(second, new EventQuery())).Select(IdOf));
        InsertResult again = await second.InsertAsync([kept], Token);
        Assert.Equal(0, again.NewCount);
        await second.PingAsync(Token);
    }

    [Fact]
    public async Task A_database_from_a_newer_collector_is_refused_with_a_clear_message()
    {
        IEventStore older = await OpenAsync();
        await older.PingAsync(Token);
        _stores.Remove(older);
        await older.DisposeAsync(); // a SQLite file takes one store at a time
        await SetSchemaVersionAsync(99);

        IEventStore store = CreateStore(new StorageOptions());
        _stores.Add(store);
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.InitializeAsync(Token));
        Assert.Contains("schema version 99", error.Message);
    }
}
