using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>The store contract on a real SQLite file, and what only SQLite has: files of collectors before versioning.</summary>
public sealed class SqliteEventStoreTests : EventStoreContract
{
    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-store-").FullName;

    private string DatabasePath => Path.Combine(_folder, "events.db");

    protected override IEventStore CreateStore(StorageOptions options, TimeProvider? timeProvider = null) => SqliteEventStore.ForFile(DatabasePath, options, timeProvider);

    protected override Task<DateTimeOffset> ReadReceivedAtAsync(Guid id)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT received_at FROM events WHERE id = @id;";
        command.Parameters.AddWithValue("@id", id.ToByteArray(bigEndian: true)); // schema 6: the id's 16 bytes
        string text = (string)command.ExecuteScalar()!;
        return Task.FromResult(DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind));
    }

    protected override Task SetSchemaVersionAsync(int version)
    {
        Execute($"UPDATE schema_version SET version = {version};");
        return Task.CompletedTask;
    }

    protected override Task DeleteEventRowsAsync()
    {
        Execute("DELETE FROM events;");
        return Task.CompletedTask;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task A_second_store_on_the_file_is_refused_before_it_migrates_and_takes_the_file_once_the_first_is_disposed()
    {
        SqliteEventStore first = SqliteEventStore.ForFile(DatabasePath);
        await first.InitializeAsync(Token);
        Assert.Equal(1, (await first.InsertAsync([Event()], Token)).NewCount);
        await using SqliteEventStore second = SqliteEventStore.ForFile(DatabasePath);

        InvalidOperationException refused = await Assert.ThrowsAsync<InvalidOperationException>(() => second.InitializeAsync(Token));

        Assert.Contains($"The SQLite database '{DatabasePath}' is in use by another collector", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Collector:Storage:Provider", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await first.InsertAsync([Event()], Token)).NewCount); // the first goes on as before
        await first.DisposeAsync();

        await second.InitializeAsync(Token); // the same store, asked again once the file is free
        Assert.Equal(1, (await second.InsertAsync([Event()], Token)).NewCount);
        Assert.Equal(3, (await second.GetStatisticsAsync(Token)).Total);
        Assert.True(File.Exists(DatabasePath + "-lock"));
    }

    [Fact]
    public async Task Stores_starting_at_once_on_one_file_let_exactly_one_in_and_the_others_fail_before_migrating()
    {
        // What the contract's concurrent-migration test became for SQLite: one of them takes the file, whichever it is.
        SqliteEventStore[] stores = [.. Enumerable.Range(0, 4).Select(_ => SqliteEventStore.ForFile(DatabasePath))];
        try
        {
            Exception?[] outcomes = await Task.WhenAll(stores.Select(store => Task.Run(async () =>
            {
                try
                {
                    await store.InitializeAsync(Token);
                    return null;
                }
                catch (Exception exception)
                {
                    return exception;
                }
            })));

            SqliteEventStore winner = stores[Array.IndexOf(outcomes, Assert.Single(outcomes, o => o is null))];
            Assert.All(outcomes.OfType<Exception>(), o => Assert.IsType<InvalidOperationException>(o));
            Assert.Equal(1, (await winner.InsertAsync([Event()], Token)).NewCount);
            Assert.Equal(1, (await winner.GetStatisticsAsync(Token)).Total);
        }
        finally
        {
            foreach (SqliteEventStore store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_store_written_before_InitializeAsync_holds_the_file_from_its_first_commit()
    {
        // The store is usable before InitializeAsync (its writer sets itself up at the first commit): that writer must
        // hold the lock too, or a store never initialized would write a file another collector holds.
        await using (SqliteEventStore made = SqliteEventStore.ForFile(DatabasePath))
        {
            await made.InitializeAsync(Token); // a store written before InitializeAsync needs the file's tables
        }

        await using SqliteEventStore written = SqliteEventStore.ForFile(DatabasePath);
        Assert.Equal(1, (await written.InsertAsync([Event()], Token)).NewCount);
        await using SqliteEventStore second = SqliteEventStore.ForFile(DatabasePath);

        InvalidOperationException refused = await Assert.ThrowsAsync<InvalidOperationException>(() => second.InitializeAsync(Token));

        Assert.Contains("is in use by another collector", refused.Message, StringComparison.Ordinal);
        await written.InitializeAsync(Token); // the lock it holds is kept, not taken twice
        Assert.Equal(1, (await written.InsertAsync([Event()], Token)).NewCount);
    }

    [Fact]
    public async Task A_disposed_store_initialized_again_is_refused_and_does_not_take_the_file_back()
    {
        SqliteEventStore disposed = SqliteEventStore.ForFile(DatabasePath);
        await disposed.InitializeAsync(Token);
        await disposed.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => disposed.InitializeAsync(Token));

        await using SqliteEventStore next = SqliteEventStore.ForFile(DatabasePath);
        await next.InitializeAsync(Token); // the file is free: the disposed store holds nothing
        Assert.Equal(1, (await next.InsertAsync([Event()], Token)).NewCount);
    }

    [Fact]
    public async Task A_lock_file_that_cannot_be_opened_is_reported_as_such_not_as_another_collector()
    {
        Directory.CreateDirectory(DatabasePath + "-lock"); // nobody holds it: it cannot be opened as a file at all
        await using SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath);

        IOException failed = await Assert.ThrowsAsync<IOException>(() => store.InitializeAsync(Token));

        Assert.Contains($"The lock file '{DatabasePath}-lock' of the SQLite database '{DatabasePath}' could not be opened", failed.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("another collector", failed.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(DatabasePath), "the store went on to create the database");
    }

    [Fact]
    public async Task FilesOf_names_every_file_a_store_leaves_beside_its_database()
    {
        SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath);
        await store.InitializeAsync(Token);
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);
        Assert.Equal(["ab12"], (await store.Dashboard.ActivityAsync("net_id", null, null, Instrumentation.Collector.Dashboard.Queries.ActivitySort.Events, descending: true, 10, Token)).Select(a => a.Value));
        string[] whileOpen = Directory.GetFiles(_folder);
        await store.DisposeAsync();

        IReadOnlyList<string> named = SqliteEventStore.FilesOf(DatabasePath);
        Assert.Subset(named.ToHashSet(), whileOpen.ToHashSet());
        Assert.Contains(DatabasePath + "-lock", whileOpen);
        foreach (string file in named)
        {
            File.Delete(file);
        }

        Assert.Empty(Directory.GetFiles(_folder));
    }

    [Fact]
    public async Task A_file_of_a_collector_before_versioning_is_adopted_and_its_counts_are_built()
    {
        // The table exactly as the unversioned collector created it, with two events in it.
        Execute("""
            CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, priority TEXT NOT NULL,
                timestamp TEXT NOT NULL, timestamp_ticks INTEGER NOT NULL, received_at TEXT NOT NULL, json TEXT NOT NULL);
            CREATE INDEX events_by_time ON events (timestamp_ticks, seq);
            CREATE INDEX events_by_type_time ON events (type, timestamp_ticks, seq);
            """);
        StoredEvent old1 = Event(type: "old"), old2 = Event(type: "old", priority: "immediate");
        foreach (StoredEvent e in new[] { old1, old2 })
        {
            InsertWithTextId(e);
        }

        IEventStore store = await OpenAsync();
        StoreStatistics statistics = await store.GetStatisticsAsync(Token);
        Assert.Equal(2, statistics.Total);
        Assert.Equal(1, statistics.ByPriority["immediate"]);
        Assert.Equal(0, (await store.InsertAsync([old1], Token)).NewCount);
        Assert.Equal(Instrumentation.Collector.Storage.Sqlite.SqliteSchema.CurrentVersion, ExecuteScalar("SELECT version FROM schema_version;"));
    }

    [Fact]
    public async Task Schema_6_keeps_every_event_with_its_id_and_seq_and_new_seqs_go_above_the_stored_ones_and_a_rollup_file_ahead_of_them_is_rebuilt()
    {
        // A version 5 file: the events table with an AUTOINCREMENT seq and the id as text, three events, the last deleted by hand.
        MigrateFileTo(5);

        StoredEvent[] old = [Event(type: "old"), Event(type: "old"), Event(type: "old")];
        foreach (StoredEvent e in old)
        {
            InsertWithTextId(e);
        }

        Execute($"DELETE FROM events WHERE id = '{old[2].Id}';");

        IEventStore store = await OpenAsync();
        Assert.Equal(SqliteSchema.CurrentVersion, ExecuteScalar("SELECT version FROM schema_version;"));
        Assert.Equal(0, ExecuteScalar("SELECT count(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%';"));
        Assert.Equal(2, ExecuteScalar("SELECT count(*) FROM events WHERE typeof(id) = 'blob' AND length(id) = 16;"));
        Assert.Equal(1, ExecuteScalar($"SELECT seq FROM events WHERE id = x'{Convert.ToHexString(old[0].Id.ToByteArray(bigEndian: true))}';"));

        // The ids are still the dedup key and what the dashboard shows and finds.
        Assert.Equal(0, (await store.InsertAsync([old[0], old[1]], Token)).NewCount);
        Assert.Equal(old[1].Id.ToString("D"), (await store.Dashboard.FindEventAsync(old[1].Id, Token))?.Id);

        // New events go above the stored seqs. When the newest rows are deleted by hand after a fold, the rollup file is
        // ahead of the events: the next start rebuilds it, so the seqs given again are not counted twice.
        Assert.Equal(2, (await store.InsertAsync([old[2], Event()], Token)).NewCount);
        Assert.Equal(4, ExecuteScalar("SELECT MAX(seq) FROM events;"));
        await store.DisposeAsync(); // folds: the mark moves to 4
        SqliteConnection.ClearAllPools();
        Assert.Equal(4, RollupAudit.Mark(DatabasePath));
        Execute("DELETE FROM events WHERE seq >= 3;");
        var reopened = (SqliteEventStore)await OpenAsync();
        Assert.Equal(1, (await reopened.InsertAsync([Event()], Token)).NewCount);
        Assert.Equal(3, ExecuteScalar("SELECT MAX(seq) FROM events;"));
        await reopened.FoldRollupsAsync(Token);
        Assert.Equal(3, RollupAudit.Mark(DatabasePath));
        Assert.Equal(3, RollupAudit.Scalar(DatabasePath, "SELECT sum(count) FROM event_minutes;")); // the stored events, once each
        Assert.Equal(3, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM event_context;"));
    }

    [Fact]
    public async Task Schema_6_drops_a_context_row_left_above_the_stored_seqs_so_a_new_event_given_that_seq_does_not_get_it()
    {
        // A version 5 file whose newest event (seq 3) was deleted by hand after a version 3–4 writer had written its context
        // index row in its own commit: the row stays, and AUTOINCREMENT kept seq 3 from being given again.
        MigrateFileTo(5);

        StoredEvent[] old = [Event(type: "old"), Event(type: "old")];
        foreach (StoredEvent e in old)
        {
            InsertWithTextId(e);
        }

        Execute($"UPDATE rollup_mark SET through_seq = 2; INSERT INTO event_context (key, value, ticks, seq) VALUES ('net_id', 'deleted', {old[1].Timestamp.UtcTicks}, 3);");

        IEventStore store = await OpenAsync();
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);
        Assert.Equal(3, ExecuteScalar("SELECT MAX(seq) FROM events;"));

        var filter = new Instrumentation.Collector.Dashboard.Queries.EventFilter(null, null, null, "net_id", "deleted", null);
        Assert.Empty((await store.Dashboard.FindEventsAsync(filter, 10, null, Token)).Rows);
        filter = filter with { ContextValue = "ab12" };
        Assert.Equal(3, (await store.Dashboard.FindEventsAsync(filter, 10, null, Token)).Rows.Count); // schema 7 rebuilt the index from the stored events
        Assert.Equal(3, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM event_context;"));
    }

    [Fact]
    public async Task Schema_6_converts_only_canonical_ids_and_keeps_every_other_one_as_its_text_without_a_collision()
    {
        // A version 5 file with ids a collector never wrote (by hand or another tool): an upper-case copy of a stored id,
        // distinct from it as text, and 36 characters of hex and dashes in the wrong places.
        MigrateFileTo(5);

        StoredEvent stored = Event(type: "old");
        string upper = stored.Id.ToString("D").ToUpperInvariant(), misplaced = stored.Id.ToString("N") + "----";
        foreach (string id in new[] { stored.Id.ToString("D"), upper, misplaced })
        {
            Execute($"INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json) VALUES ('{id}', 'old', 'batch', '', {stored.Timestamp.UtcTicks}, '', '{stored.Json}');");
        }

        IEventStore store = await OpenAsync();
        Assert.Equal(3, ExecuteScalar("SELECT count(*) FROM events;"));
        Assert.Equal(1, ExecuteScalar($"SELECT seq FROM events WHERE id = x'{Convert.ToHexString(stored.Id.ToByteArray(bigEndian: true))}';"));
        Assert.Equal(2, ExecuteScalar($"SELECT count(*) FROM events WHERE id IN (CAST('{upper}' AS BLOB), CAST('{misplaced}' AS BLOB));"));
        Assert.Equal(stored.Id.ToString("D"), (await store.Dashboard.FindEventAsync(stored.Id, Token))?.Id);
        Assert.Equal([misplaced, upper, stored.Id.ToString("D")], (await store.Dashboard.NewestAsync(null, 10, Token)).Select(e => e.Id));
    }

    [Fact]
    public async Task A_seq_taken_by_a_row_another_program_wrote_fails_one_commit_and_the_next_goes_above_it()
    {
        IEventStore store = await OpenAsync();
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);

        // Another program (which the docs forbid, and which must not stop the collector for good) takes the next seq.
        StoredEvent foreign = Event(type: "foreign");
        Execute($"INSERT INTO events (seq, id, type, priority, timestamp, timestamp_ticks, received_at, json) VALUES (2, x'{Convert.ToHexString(foreign.Id.ToByteArray(bigEndian: true))}', 'foreign', 'batch', '', {foreign.Timestamp.UtcTicks}, '', '{foreign.Json}');");

        StoredEvent refused = Event();
        await Assert.ThrowsAsync<SqliteException>(() => store.InsertAsync([refused], Token));
        Assert.Equal(1, (await store.InsertAsync([refused], Token)).NewCount);
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);
        Assert.Equal(2, ExecuteScalar("SELECT count(*) FROM events WHERE seq > 2;"));
    }

    [Fact]
    public async Task An_upgrade_leaves_no_write_ahead_log_the_size_of_the_table_it_copied()
    {
        MigrateFileTo(5);

        for (int i = 0; i < 200; i++)
        {
            StoredEvent e = Event(type: "old", data: $$"""{"text":"{{new string('x', 1000)}}"}""");
            InsertWithTextId(e);
        }

        Execute("UPDATE rollup_mark SET through_seq = 200; PRAGMA wal_checkpoint(TRUNCATE);"); // rolled up: the start writes nothing
        Assert.Equal(0, new FileInfo(DatabasePath + "-wal").Length);

        IEventStore store = await OpenAsync(); // migrates to 6: copies the 200 KiB of events
        Assert.Equal(SqliteSchema.CurrentVersion, ExecuteScalar("SELECT version FROM schema_version;"));
        Assert.Equal(0, new FileInfo(DatabasePath + "-wal").Length);
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);
    }

    [Fact]
    public async Task A_new_file_has_8_KiB_pages_and_an_older_file_keeps_its_own()
    {
        IEventStore store = await OpenAsync();
        Assert.Equal(SqliteSchema.PageSize, ExecuteScalar("PRAGMA page_size;"));
        await store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        foreach (string file in Directory.GetFiles(_folder))
        {
            File.Delete(file);
        }

        Execute("PRAGMA page_size=4096; CREATE TABLE unrelated (a INTEGER);");
        store = await OpenAsync();
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);
        Assert.Equal(4096, ExecuteScalar("PRAGMA page_size;"));
    }

    [Fact]
    public async Task A_failed_transaction_is_rolled_back_whole_and_the_writers_prepared_statements_work_after_it()
    {
        // Real failures inside the writer's transaction, from triggers: one in the raw events insert (the statement that
        // binds each row), one later in the raw counts upsert, after the batch's events were inserted.
        IEventStore store = await OpenAsync();
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount); // the writer and its statements exist
        Execute("""
            CREATE TRIGGER fail_event BEFORE INSERT ON events WHEN NEW.type = 'poison' BEGIN SELECT RAISE(ABORT, 'poison event'); END;
            CREATE TRIGGER fail_count BEFORE INSERT ON event_counts WHEN NEW.type = 'poison-count' BEGIN SELECT RAISE(ABORT, 'poison count'); END;
            """);

        StoredEvent[] failsInInsert = [Event(), Event(type: "poison"), Event()];
        StoredEvent[] failsInCounts = [Event(), Event(type: "poison-count"), Event()];
        await Assert.ThrowsAsync<SqliteException>(() => store.InsertAsync(failsInInsert, Token));
        await Assert.ThrowsAsync<SqliteException>(() => store.InsertAsync(failsInCounts, Token));

        // Nothing of either stayed: their other events are new when sent again, and every sum matches the stored events.
        StoredEvent[] again = [failsInInsert[0], failsInInsert[2], failsInCounts[0], failsInCounts[2], Event(type: "other")];
        InsertResult result = await store.InsertAsync(again, Token);
        Assert.Equal(again.Length, result.NewCount);
        await ((SqliteEventStore)store).FoldRollupsAsync(Token); // the totals below are folded, not written per commit
        Assert.Equal(1 + again.Length, ExecuteScalar("SELECT count(*) FROM events;"));
        Assert.Equal(1 + again.Length, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Equal(1 + again.Length, RollupAudit.Scalar(DatabasePath, "SELECT sum(count) FROM event_minutes;"));
        Assert.Equal(1 + again.Length, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM event_context;"));
        Assert.Equal(1 + again.Length, RollupAudit.Scalar(DatabasePath, "SELECT sum(events) FROM context_values;"));
        Assert.Equal(0, ExecuteScalar("SELECT count(*) FROM events WHERE type IN ('poison', 'poison-count');"));
    }

    /// <summary>Creates the file's schema as a collector of that version left it.</summary>
    private void MigrateFileTo(int version)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        SqliteSchema.Migrate(connection, version);
    }

    /// <summary>Stores an event as collectors before schema 6 did: the id as its text, the seq from AUTOINCREMENT.</summary>
    private void InsertWithTextId(StoredEvent e) =>
        Execute($"INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json) VALUES ('{e.Id}', '{e.Type}', '{e.Priority}', '', {e.Timestamp.UtcTicks}, '', '{e.Json}');");

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private long ExecuteScalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
