using System.Globalization;
using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.PostgreSql;
using Instrumentation.Collector.Storage.Sqlite;
using Instrumentation.Collector.Tests;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Instrumentation.Dashboard.Tests;

/// <summary>The dashboard's queries and the rollups behind them, on each store (a real SQLite file, a real PostgreSQL).</summary>
public abstract class DashboardQueriesTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Base = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private readonly List<IEventStore> _stores = [];

    protected static CancellationToken Token => TestContext.Current.CancellationToken;

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (IEventStore store in _stores)
        {
            await store.DisposeAsync();
        }

        await CleanUpAsync();
        GC.SuppressFinalize(this);
    }

    protected abstract IEventStore CreateStore();

    protected virtual ValueTask CleanUpAsync() => ValueTask.CompletedTask;

    /// <summary>Takes the database back to the schema before the dashboard's rollups (their tables dropped).</summary>
    protected abstract Task DropRollupsAsync();

    /// <summary>
    /// Makes a database at the last version whose context index was keyed by event id, holding <paramref name="events"/>
    /// (stored as rows of the events table, the older migrations then filling the rollups and that index from them), and
    /// returns how many context index rows it has.
    /// </summary>
    protected abstract Task<long> CreateIdKeyedDatabaseAsync(IReadOnlyList<StoredEvent> events);

    /// <summary>The SQL text of an event row's <c>timestamp</c> column, as the writers store it.</summary>
    protected static string TimestampText(StoredEvent item) => item.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private async Task<IEventStore> OpenAsync()
    {
        IEventStore store = CreateStore();
        _stores.Add(store);
        await store.InitializeAsync(Token);
        return store;
    }

    private static StoredEvent Event(int n, string type, int minute, string netId, string? course = null, int second = 0)
    {
        Guid id = new(string.Create(CultureInfo.InvariantCulture, $"0199c000-0000-7000-8000-{n:x12}"));
        DateTimeOffset at = Base.AddMinutes(minute).AddSeconds(second);
        string context = course is null ? $$"""{"net_id":"{{netId}}","note":null}""" : $$"""{"net_id":"{{netId}}","course_id":"{{course}}"}""";
        string json = $$"""{"id":"{{id:D}}","type":"{{type}}","priority":"batch","timestamp":"{{at.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}}","context":{{context}},"data":{"n":{{n}},"text":"Item {{n}}" """ + "}}";
        return new StoredEvent(id, type, "batch", at, json);
    }

    private static StoredEvent[] Sample() =>
    [
        Event(1, "cell", 0, "ab123", "cs101"),
        Event(2, "cell", 0, "ab123", "cs101", second: 30),
        Event(3, "cell", 1, "ab123", "cs102"),
        Event(4, "focus", 5, "ab123"),
        Event(5, "cell", 2, "cd456", "cs101"),
        Event(6, "focus", 2, "cd456", "cs101"),
        Event(7, "focus", 9, "cd456", "cs101"),
    ];

    [Fact]
    public async Task Rollups_count_each_event_once_even_when_it_is_uploaded_again()
    {
        IEventStore store = await OpenAsync();
        StoredEvent[] events = Sample();
        await store.InsertAsync(events, Token);
        await store.InsertAsync([.. events, events[0]], Token); // the same events again, one twice in the batch
        await AssertSampleAsync(store.Dashboard);
    }

    [Fact]
    public async Task Activity_counts_a_minute_once_when_its_events_arrive_in_separate_commits()
    {
        IEventStore store = await OpenAsync();
        await store.InsertAsync([Event(1, "cell", 0, "ab123")], Token);
        await store.InsertAsync([Event(2, "focus", 0, "ab123", second: 40)], Token);
        await store.InsertAsync([Event(3, "cell", 1, "ab123"), Event(4, "cell", 0, "cd456")], Token);
        foreach ((DateTimeOffset? from, DateTimeOffset? until) in new (DateTimeOffset?, DateTimeOffset?)[] { (null, null), (Base, Base.AddHours(1)) })
        {
            ContextActivity ab = (await store.Dashboard.ActivityAsync("net_id", from, until, ActivitySort.Events, descending: true, 10, Token))[0];
            Assert.Equal(("ab123", 3L, 2L), (ab.Value, ab.Events, ab.ActiveMinutes));
            Assert.Equal(Base.AddMinutes(1), ab.LastSeen);
            Assert.Equal([new KeyValuePair<string, long>("cell", 2), new KeyValuePair<string, long>("focus", 1)], ab.TopTypes);
        }
    }

    [Fact]
    public async Task Migration_fills_the_rollups_from_events_stored_before_them()
    {
        IEventStore before = await OpenAsync();
        await before.InsertAsync(Sample(), Token);
        await before.DisposeAsync();
        _stores.Remove(before);
        await DropRollupsAsync();

        IEventStore after = await OpenAsync();
        await AssertSampleAsync(after.Dashboard);
    }

    [Fact]
    public async Task Migration_keys_an_older_context_index_by_seq_keeping_every_row_and_the_writer_goes_on_from_there()
    {
        long before = await CreateIdKeyedDatabaseAsync(Sample());
        Assert.Equal(13, before); // two string fields in the context of six of the seven events, one in the other

        IEventStore store = await OpenAsync();
        await AssertSampleAsync(store.Dashboard);
        await store.InsertAsync([Event(8, "cell", 3, "ab123", "cs102"), Event(1, "cell", 0, "ab123", "cs101")], Token); // one new, one stored before
        DashboardEventPage ab = await store.Dashboard.FindEventsAsync(new EventFilter(null, null, null, "net_id", "ab123", null), 50, null, Token);
        Assert.Equal([4, 8, 3, 2, 1], ab.Rows.Select(r => int.Parse(r.Id[^2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        DashboardEventPage course = await store.Dashboard.FindEventsAsync(new EventFilter(null, null, null, "course_id", "cs102", null), 1, null, Token);
        Assert.Equal("0199c000-0000-7000-8000-000000000008", Assert.Single(course.Rows).Id);
        DashboardEventPage rest = await store.Dashboard.FindEventsAsync(new EventFilter(null, null, null, "course_id", "cs102", null), 1, course.Next, Token);
        Assert.Equal("0199c000-0000-7000-8000-000000000003", Assert.Single(rest.Rows).Id);
        Assert.Null(rest.Next);
    }

    [Fact]
    public async Task Each_rollup_read_right_after_an_insert_includes_it()
    {
        // The SQLite store folds its rollups only when a read asks (or at its threshold): every read here must ask.
        IEventStore store = await OpenAsync();
        for (int n = 1; n <= 12; n++)
        {
            await store.InsertAsync([Event(n, n % 2 == 0 ? "cell" : "focus", n, "s" + n, "c" + n)], Token);
            TimeSeries series = await store.Dashboard.CountByTypeOverTimeAsync(Base, Base.AddHours(1), TimeSpan.FromMinutes(1), Token);
            Assert.Equal(n, series.TotalsByType().Sum(t => t.Value));
            if (n == 1)
            {
                Assert.Equal(["course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
            }

            Assert.Equal(n, (await store.Dashboard.ActivityAsync("net_id", null, null, ActivitySort.Events, descending: true, 100, Token)).Count);
            IReadOnlyList<ContextActivity> ranged = await store.Dashboard.ActivityAsync("course_id", Base, Base.AddHours(1), ActivitySort.Events, descending: true, 100, Token);
            Assert.Equal(n, ranged.Sum(a => a.Events));
            DashboardEventPage found = await store.Dashboard.FindEventsAsync(new EventFilter(null, null, null, "course_id", "c" + n, null), 10, null, Token);
            Assert.Single(found.Rows); // the explorer's context index
        }
    }

    [Fact]
    public async Task Types_context_fields_and_values_are_listed_in_code_point_order_on_each_store()
    {
        IEventStore store = await OpenAsync();
        await store.InsertAsync([Event(1, "alpha", 0, "\u00e9t\u00e9", "b"), Event(2, "Zeta", 1, "zoo", "B"), Event(3, "\u00e9clair", 2, "Zoo")], Token);
        Assert.Equal(["Zeta", "alpha", "\u00e9clair"], await store.Dashboard.TypesAsync(Token));
        Assert.Equal(["course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
        foreach ((DateTimeOffset? from, DateTimeOffset? until) in new (DateTimeOffset?, DateTimeOffset?)[] { (null, null), (Base, Base.AddHours(1)) })
        {
            IReadOnlyList<ContextActivity> values = await store.Dashboard.ActivityAsync("net_id", from, until, ActivitySort.Value, descending: false, 10, Token);
            Assert.Equal(["Zoo", "zoo", "\u00e9t\u00e9"], values.Select(a => a.Value));
        }
    }

    [Fact]
    public async Task Explorer_pages_return_every_match_once_in_order_when_timestamps_are_equal()
    {
        IEventStore store = await OpenAsync();
        StoredEvent[] events = [.. Enumerable.Range(1, 11).Select(n => Event(n, "cell", 0, n % 2 == 0 ? "ab123" : "cd456"))];
        await store.InsertAsync(events, Token);
        foreach (EventFilter filter in new[] { new EventFilter(null, null, null, null, null, null), new EventFilter("cell", null, null, "net_id", "cd456", null) })
        {
            var seen = new List<string>();
            EventCursor? after = null;
            do
            {
                DashboardEventPage page = await store.Dashboard.FindEventsAsync(filter, 3, after, Token);
                Assert.InRange(page.Rows.Count, 1, 3);
                seen.AddRange(page.Rows.Select(r => r.Id));
                after = page.Next;
            }
            while (after is not null);

            string[] expected = [.. events.Where(e => filter.ContextValue is null || e.Json.Contains(filter.ContextValue, StringComparison.Ordinal)).Reverse().Select(e => e.Id.ToString("D"))];
            Assert.Equal(expected, seen); // same timestamp: the later-stored first
        }
    }

    [Fact]
    public async Task Explorer_pages_over_groups_of_equal_timestamps_give_every_match_once_newest_first()
    {
        // 4 timestamps x 5 events, stored one at a time with the timestamps interleaved (seq order is not time order): pages
        // of 3, whose cursors fall inside groups of equal timestamps, over the events table and over the context index.
        IEventStore store = await OpenAsync();
        var stored = new List<StoredEvent>();
        for (int n = 1; n <= 20; n++)
        {
            StoredEvent item = Event(n, "cell", n % 4, n % 3 == 0 ? "ab123" : "cd456");
            await store.InsertAsync([item], Token);
            stored.Add(item);
        }

        foreach (EventFilter filter in new[] { new EventFilter(null, null, null, null, null, null), new EventFilter(null, null, null, "net_id", "cd456", null) })
        {
            var seen = new List<string>();
            EventCursor? after = null;
            do
            {
                DashboardEventPage page = await store.Dashboard.FindEventsAsync(filter, 3, after, Token);
                seen.AddRange(page.Rows.Select(r => r.Id));
                after = page.Next;
            }
            while (after is not null);

            string[] expected = [.. stored.Select((e, i) => (Event: e, Order: i))
                .Where(s => filter.ContextValue is null || s.Event.Json.Contains(filter.ContextValue, StringComparison.Ordinal))
                .OrderByDescending(s => s.Event.Timestamp).ThenByDescending(s => s.Order).Select(s => s.Event.Id.ToString("D"))];
            Assert.Equal(expected, seen);
        }
    }

    private static async Task AssertSampleAsync(IDashboardQueries dashboard)
    {
        TimeSeries series = await dashboard.CountByTypeOverTimeAsync(Base, Base.AddMinutes(10), TimeSpan.FromMinutes(5), Token);
        Assert.Equal(2, series.BucketCount);
        Assert.Equal(new long[] { 4, 0 }, series.Counts["cell"]);
        Assert.Equal(new long[] { 1, 2 }, series.Counts["focus"]);
        Assert.Equal(7, series.ByPriority["batch"]);

        Assert.Equal(["cell", "focus"], await dashboard.TypesAsync(Token));
        Assert.Equal(["course_id", "net_id"], await dashboard.ContextKeysAsync(Token)); // "note" is null, not indexed

        DashboardEventPage ab = await dashboard.FindEventsAsync(new EventFilter(null, null, null, "net_id", "ab123", null), 50, null, Token);
        Assert.Equal([4, 3, 2, 1], ab.Rows.Select(r => int.Parse(r.Id[^2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        DashboardEventPage text = await dashboard.FindEventsAsync(new EventFilter("focus", null, null, "course_id", "cs101", "ITEM 7"), 50, null, Token);
        Assert.Equal("focus", Assert.Single(text.Rows).Type);

        IReadOnlyList<ContextActivity> activity = await dashboard.ActivityAsync("net_id", null, null, ActivitySort.Events, descending: true, 10, Token);
        Assert.Equal(["ab123", "cd456"], activity.Select(a => a.Value));
        ContextActivity first = activity[0];
        Assert.Equal(4, first.Events);
        Assert.Equal(Base, first.FirstSeen);
        Assert.Equal(Base.AddMinutes(5), first.LastSeen);
        Assert.Equal(3, first.ActiveMinutes); // minutes 0, 1 and 5
        Assert.Equal(new KeyValuePair<string, long>("cell", 3), first.TopTypes[0]);
        Assert.Equal(["cd456", "ab123"], (await dashboard.ActivityAsync("net_id", null, null, ActivitySort.LastSeen, descending: true, 10, Token)).Select(a => a.Value));
        Assert.Equal(["cs101"], (await dashboard.ActivityAsync("course_id", null, null, ActivitySort.Value, descending: false, 1, Token)).Select(a => a.Value));
        IReadOnlyList<ContextActivity> late = await dashboard.ActivityAsync("net_id", Base.AddMinutes(3), null, ActivitySort.Events, descending: true, 10, Token);
        Assert.Equal([("ab123", 1L), ("cd456", 1L)], late.Select(a => (a.Value, a.Events))); // the focus events at minutes 5 and 9
    }
}

/// <summary>On a SQLite file.</summary>
public sealed class SqliteDashboardQueriesTests : DashboardQueriesTests
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dashboard-queries-").FullName;

    private string Path => System.IO.Path.Combine(_folder, "events.db");

    protected override IEventStore CreateStore() => SqliteEventStore.ForFile(Path);

    protected override async Task DropRollupsAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={Path}");
        await connection.OpenAsync(Token);
        await using SqliteCommand command = connection.CreateCommand();
        // Back to version 2: without the rollups (3–5, in the file itself; from 7 in the rollup file, deleted below), with the
        // events table of before 6 (an AUTOINCREMENT seq, the id as text) and without the store identity of 7.
        command.CommandText = """
            DROP TABLE store_identity;
            CREATE TABLE events_v2 (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, priority TEXT NOT NULL, timestamp TEXT NOT NULL, timestamp_ticks INTEGER NOT NULL, received_at TEXT NOT NULL, json TEXT NOT NULL);
            INSERT INTO events_v2 SELECT seq,
                lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' || substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21, 12)),
                type, priority, timestamp, timestamp_ticks, received_at, json FROM events;
            DROP TABLE events;
            ALTER TABLE events_v2 RENAME TO events;
            CREATE INDEX events_by_time ON events (timestamp_ticks, seq);
            CREATE INDEX events_by_type_time ON events (type, timestamp_ticks, seq);
            UPDATE schema_version SET version = 2;
            """;
        await command.ExecuteNonQueryAsync(Token);
        SqliteConnection.ClearAllPools();
        foreach (string file in new[] { "", "-wal", "-shm" }.Select(suffix => Path + "-rollups" + suffix))
        {
            File.Delete(file);
        }
    }

    protected override async Task<long> CreateIdKeyedDatabaseAsync(IReadOnlyList<StoredEvent> events)
    {
        await using var connection = new SqliteConnection($"Data Source={Path}");
        await connection.OpenAsync(Token);
        SqliteSchema.Migrate(connection, 1);
        foreach (StoredEvent item in events)
        {
            await using SqliteCommand insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json) VALUES ($id, $type, $priority, $timestamp, $ticks, $timestamp, $json);";
            insert.Parameters.AddWithValue("$id", item.Id.ToString("D"));
            insert.Parameters.AddWithValue("$type", item.Type);
            insert.Parameters.AddWithValue("$priority", item.Priority);
            insert.Parameters.AddWithValue("$timestamp", TimestampText(item));
            insert.Parameters.AddWithValue("$ticks", item.Timestamp.UtcTicks);
            insert.Parameters.AddWithValue("$json", item.Json);
            await insert.ExecuteNonQueryAsync(Token);
        }

        SqliteSchema.Migrate(connection, 3);
        await using SqliteCommand count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM event_context c JOIN events e ON e.id = c.id;"; // keyed by id at version 3
        return (long)(await count.ExecuteScalarAsync(Token))!;
    }

    protected override ValueTask CleanUpAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>On a real PostgreSQL server (a database of its own per test).</summary>
public sealed class PostgreSqlDashboardQueriesTests(PostgreSqlServer server) : DashboardQueriesTests
{
    private string? _connectionString;

    public override async ValueTask InitializeAsync() => _connectionString = await server.CreateDatabaseAsync();

    protected override IEventStore CreateStore() => new PostgreSqlEventStore(_connectionString!);

    protected override async Task DropRollupsAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand("DROP TABLE event_minutes; DROP TABLE event_context; DROP TABLE context_minutes; DROP TABLE context_value_minutes; DROP TABLE context_value_types; DROP TABLE context_values; DELETE FROM instrumentation_schema WHERE version > 1;", connection);
        await command.ExecuteNonQueryAsync(Token);
    }

    protected override async Task<long> CreateIdKeyedDatabaseAsync(IReadOnlyList<StoredEvent> events)
    {
        await using NpgsqlDataSource dataSource = NpgsqlDataSource.Create(_connectionString!);
        await PostgreSqlSchema.MigrateAsync(dataSource, 1, Token);
        await using NpgsqlConnection connection = await dataSource.OpenConnectionAsync(Token);
        foreach (StoredEvent item in events)
        {
            await using var insert = new NpgsqlCommand("INSERT INTO events (id, type, priority, timestamp_ticks, \"timestamp\", json) VALUES ($1, $2, $3, $4, $5, $6);", connection);
            insert.Parameters.Add(new NpgsqlParameter { Value = item.Id });
            insert.Parameters.Add(new NpgsqlParameter { Value = item.Type });
            insert.Parameters.Add(new NpgsqlParameter { Value = item.Priority });
            insert.Parameters.Add(new NpgsqlParameter { Value = item.Timestamp.UtcTicks });
            insert.Parameters.Add(new NpgsqlParameter { Value = item.Timestamp.UtcDateTime });
            insert.Parameters.Add(new NpgsqlParameter { Value = item.Json });
            await insert.ExecuteNonQueryAsync(Token);
        }

        await using (var counts = new NpgsqlCommand("INSERT INTO event_counts SELECT type, priority, count(*), min(timestamp_ticks), max(timestamp_ticks) FROM events GROUP BY 1, 2;", connection))
        {
            await counts.ExecuteNonQueryAsync(Token);
        }

        await PostgreSqlSchema.MigrateAsync(dataSource, 2, Token);
        await using var count = new NpgsqlCommand("SELECT count(*) FROM event_context c JOIN events e ON e.id = c.id;", connection); // keyed by id at version 2
        return (long)(await count.ExecuteScalarAsync(Token))!;
    }
}
