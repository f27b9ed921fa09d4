using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.PostgreSql;
using Npgsql;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>The store contract on a real PostgreSQL server (a database of its own per test).</summary>
public sealed class PostgreSqlEventStoreTests(PostgreSqlServer server) : EventStoreContract
{
    private string? _connectionString;

    public override async ValueTask InitializeAsync() => _connectionString = await server.CreateDatabaseAsync();

    protected override IEventStore CreateStore(StorageOptions options, TimeProvider? timeProvider = null) => new PostgreSqlEventStore(_connectionString!, options, timeProvider);

    protected override async Task<DateTimeOffset> ReadReceivedAtAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand("SELECT received_at FROM events WHERE id = @id;", connection);
        command.Parameters.AddWithValue("id", id);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(Token);
        Assert.True(await reader.ReadAsync(Token));
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    protected override Task SetSchemaVersionAsync(int version) => ExecuteAsync($"INSERT INTO instrumentation_schema (version) VALUES ({version});");

    protected override Task DeleteEventRowsAsync() => ExecuteAsync("DELETE FROM events;");

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Token);
    }

    [Fact]
    public async Task A_failed_transaction_is_rolled_back_whole_wherever_it_fails_and_the_connection_works_after_it()
    {
        // Real failures from triggers: in the events insert (the first round trip), in the context index insert and in a
        // totals statement (the second, whose COMMIT the server then skips). One writer, so the failed transactions'
        // pooled connection is the one the next commits use.
        IEventStore store = await OpenAsync(new StorageOptions { PostgreSqlWriters = 1 });
        Assert.Equal(1, (await store.InsertAsync([Event()], Token)).NewCount);
        await ExecuteAsync(
            """
            CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'poison in %', TG_TABLE_NAME; END $$;
            CREATE TRIGGER fail_event BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.type = 'poison') EXECUTE FUNCTION poison();
            CREATE TRIGGER fail_context BEFORE INSERT ON event_context FOR EACH ROW WHEN (NEW.key = 'poison') EXECUTE FUNCTION poison();
            CREATE TRIGGER fail_totals BEFORE INSERT ON context_value_types FOR EACH ROW WHEN (NEW.value = 'poison') EXECUTE FUNCTION poison();
            """);

        StoredEvent[] failsInInsert = [Event(), Event(type: "poison"), Event()];
        StoredEvent[] failsInContext = [Event(), Event(context: """{"poison":"x"}"""), Event()];
        StoredEvent[] failsInTotals = [Event(), Event(context: """{"net_id":"poison"}"""), Event()];
        foreach (StoredEvent[] failing in new[] { failsInInsert, failsInContext, failsInTotals })
        {
            PostgresException failure = await Assert.ThrowsAsync<PostgresException>(() => store.InsertAsync(failing, Token));
            Assert.StartsWith("poison in", failure.MessageText, StringComparison.Ordinal);
        }

        // Grouped with good batches: the group fails, each batch is retried alone, only the poisoned one fails.
        StoredEvent[][] good = [.. Enumerable.Range(0, 8).Select(_ => new[] { Event(), Event() })];
        Task<InsertResult>[] goodTasks = [.. good.Select(batch => store.InsertAsync(batch, Token))];
        Task<InsertResult> poisoned = store.InsertAsync([Event(), Event(context: """{"net_id":"poison"}""")], Token);
        Assert.All(await Task.WhenAll(goodTasks), r => Assert.Equal(2, r.NewCount));
        await Assert.ThrowsAsync<PostgresException>(() => poisoned);

        // Nothing of a failed batch stayed: its other events are new when sent again, and every sum matches the stored events.
        StoredEvent[] again = [failsInInsert[0], failsInInsert[2], failsInContext[0], failsInContext[2], failsInTotals[0], failsInTotals[2], Event(type: "other")];
        Assert.Equal(again.Length, (await store.InsertAsync(again, Token)).NewCount);
        long stored = 1 + (2 * good.Length) + again.Length;
        Assert.Equal(stored, await CountAsync("SELECT count(*) FROM events;"));
        Assert.Equal(stored, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Equal(stored, await CountAsync("SELECT sum(count) FROM event_minutes;"));
        Assert.Equal(stored, await CountAsync("SELECT count(*) FROM event_context;"));
        Assert.Equal(stored, await CountAsync("SELECT sum(events) FROM context_values;"));
        Assert.Equal(stored, await CountAsync("SELECT sum(count) FROM context_value_types;"));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%';"));
    }

    [Fact]
    public async Task A_commit_cancelled_by_its_command_timeout_in_the_last_round_trip_is_rolled_back_and_the_connection_works_after_it()
    {
        // The one way a commit is cancelled midway (the writers pass no request's token): the command timeout, here while the
        // last batch (totals, then COMMIT) waits. Npgsql cancels the statement on the server; the store then rolls back, so
        // the pooled connection the single writer reuses is not left in a failed transaction.
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { CommandTimeout = 1 };
        await using var store = new PostgreSqlEventStore(builder.ToString(), new StorageOptions { PostgreSqlWriters = 1 });
        await store.InitializeAsync(Token);
        await ExecuteAsync(
            """
            CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$;
            CREATE TRIGGER slow_totals BEFORE INSERT ON context_value_types FOR EACH ROW WHEN (NEW.value = 'slow') EXECUTE FUNCTION slow();
            """);

        StoredEvent[] slow = [Event(), Event(context: """{"net_id":"slow"}""")];
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.InsertAsync(slow, Token));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM events;"));

        StoredEvent[] next = [slow[0], Event()];
        Assert.Equal(2, (await store.InsertAsync(next, Token)).NewCount);
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM events;"));
        Assert.Equal(2, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Equal(2, await CountAsync("SELECT sum(events) FROM context_values;"));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%';"));
    }

    [Fact]
    public async Task Every_text_key_column_compares_bytewise()
    {
        await OpenAsync();
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(
            """
            SELECT table_name || '.' || column_name, COALESCE(collation_name, '') FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type = 'text' AND column_name IN ('type', 'priority', 'key', 'value')
            ORDER BY 1;
            """,
            connection);
        var columns = new List<(string Column, string Collation)>();
        await using (NpgsqlDataReader reader = await command.ExecuteReaderAsync(Token))
        {
            while (await reader.ReadAsync(Token))
            {
                columns.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        Assert.Equal(18, columns.Count); // 2 in each of events, event_counts, event_minutes; 2 or 3 in each of the five context tables
        Assert.All(columns, c => Assert.Equal("C", c.Collation));
    }

    [Fact]
    public async Task Several_instances_starting_at_once_migrate_the_schema_once()
    {
        IEventStore[] stores = [.. Enumerable.Range(0, 4).Select(_ => CreateStore(new StorageOptions()))];
        try
        {
            await Task.WhenAll(stores.Select(s => Task.Run(() => s.InitializeAsync(Token))));

            StoredEvent shared = Event();
            InsertResult[] results = await Task.WhenAll(stores.Select(s => s.InsertAsync([shared], Token)));
            Assert.Equal(1, results.Sum(r => r.NewCount));
            Assert.Equal(1, (await stores[0].GetStatisticsAsync(Token)).Total);
            Assert.Equal(PostgreSqlSchema.CurrentVersion, await CountAsync("SELECT count(*) FROM instrumentation_schema;"));
        }
        finally
        {
            foreach (IEventStore store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Two_instances_inserting_the_same_ids_in_opposite_orders_neither_deadlock_nor_duplicate()
    {
        IEventStore first = await OpenAsync();
        IEventStore second = await OpenAsync();
        for (int round = 0; round < 5; round++)
        {
            StoredEvent[] events = [.. Enumerable.Range(0, 2000).Select(_ => Event())];
            InsertResult[] results = await Task.WhenAll(
                Task.Run(() => first.InsertAsync(events, Token)),
                Task.Run(() => second.InsertAsync([.. events.Reverse()], Token)));
            Assert.Equal(events.Length, results.Sum(r => r.NewCount));
        }

        Assert.Equal(10_000, (await first.GetStatisticsAsync(Token)).Total);
    }

    [Fact]
    public async Task Several_writers_committing_the_same_ids_concurrently_report_each_new_once_and_keep_counts_and_rollups_exact()
    {
        // Four writers, each committing its own group: requests that share ids land in concurrent transactions, which
        // the unique index orders (the second waits for the first and inserts nothing), in either id order.
        IEventStore store = await OpenAsync(new StorageOptions { Provider = StorageProvider.PostgreSql, PostgreSqlWriters = 4, MaxEventsPerCommit = 200 });
        StoredEvent[] pool = [.. Enumerable.Range(0, 1200).Select(i => Event(type: "t" + (i % 3), at: T0.AddSeconds(i * 7), context: $$"""{"net_id":"n{{i % 5}}"}"""))];
        int reportedNew = 0;
        for (int round = 0; round < 3; round++)
        {
            InsertResult[] results = await Task.WhenAll(Enumerable.Range(0, 24).Select(r => Task.Run(() =>
            {
                IEnumerable<StoredEvent> window = pool.Skip(r * 50 % 1100).Take(200 + (round * 100));
                return store.InsertAsync([.. r % 2 == 0 ? window : window.Reverse()], Token);
            })));
            reportedNew += results.Sum(r => r.NewCount);
            Assert.Equal(await CountAsync("SELECT count(*) FROM events;"), reportedNew);
        }

        IReadOnlyDictionary<Guid, long> ids = await store.CountByIdAsync();
        Assert.All(ids.Values, count => Assert.Equal(1, count));
        StoreStatistics statistics = await store.GetStatisticsAsync(Token);
        Assert.Equal(ids.Count, statistics.Total);
        Assert.Equal(await CountAsync("SELECT count(*) FROM events;"), await CountAsync("SELECT COALESCE(sum(count), 0) FROM event_minutes;"));
        Assert.Equal(await CountAsync("SELECT count(*) FROM events;"), await CountAsync("SELECT count(*) FROM event_context;"));
        Assert.Equal(await CountAsync("SELECT count(*) FROM events;"), await CountAsync("SELECT COALESCE(sum(events), 0) FROM context_values;"));
        Assert.Equal(await CountAsync("SELECT count(*) FROM events;"), await CountAsync("SELECT COALESCE(sum(count), 0) FROM context_value_types;"));
        Assert.Equal(
            await CountAsync("SELECT count(DISTINCT (json::json -> 'context' ->> 'net_id', timestamp_ticks / 600000000)) FROM events;"),
            await CountAsync("SELECT COALESCE(sum(active_minutes), 0) FROM context_values;"));
    }

    [Fact]
    public async Task Each_of_several_writers_reports_an_id_as_new_exactly_once_when_all_send_it_at_once()
    {
        IEventStore store = await OpenAsync(new StorageOptions { Provider = StorageProvider.PostgreSql, PostgreSqlWriters = 4 });
        // 8 requests of 300 (2,400 waiting, over the 1,000 from which a second writer joins) carrying the same ids.
        for (int round = 0; round < 10; round++)
        {
            StoredEvent[] same = [.. Enumerable.Range(0, 300).Select(_ => Event())];
            InsertResult[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(r => Task.Run(() => store.InsertAsync(same, Token))));
            for (int i = 0; i < same.Length; i++)
            {
                Assert.Equal(1, results.Count(result => result.IsNew(i)));
            }
        }

        Assert.Equal(3000, (await store.GetStatisticsAsync(Token)).Total);
    }

    [Fact]
    public async Task The_context_index_migration_keeps_the_rows_an_older_instance_commits_while_it_runs()
    {
        // An instance of the previous version (context index keyed by id) is mid-transaction when a newer one starts and
        // migrates: the migration must wait for it and then copy its context rows, not copy first and drop them with the old
        // table once that transaction commits.
        await using (NpgsqlDataSource old = NpgsqlDataSource.Create(_connectionString!))
        {
            await PostgreSqlSchema.MigrateAsync(old, 2, Token);
        }

        Guid id = Guid.CreateVersion7();
        await using var olderWriter = new NpgsqlConnection(_connectionString);
        await olderWriter.OpenAsync(Token);
        await using (var begin = new NpgsqlCommand(
            $"""
            BEGIN;
            INSERT INTO events (id, type, priority, timestamp_ticks, "timestamp", json) VALUES ('{id}', 'cell', 'batch', 1, now(), '{"{"}{"}"}');
            INSERT INTO event_context (key, value, ticks, id) VALUES ('net_id', 'ab12', 1, '{id}');
            """,
            olderWriter))
        {
            await begin.ExecuteNonQueryAsync(Token);
        }

        await using var store = new PostgreSqlEventStore(_connectionString!);
        Task migration = store.InitializeAsync(Token);
        while (await CountAsync("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock';") == 0)
        {
            Assert.False(migration.IsCompleted, "the migration did not wait for the older instance's transaction");
            await Task.Delay(20, Token);
        }

        await using (var commit = new NpgsqlCommand("COMMIT;", olderWriter))
        {
            await commit.ExecuteNonQueryAsync(Token);
        }

        await migration;
        Assert.Equal(1, await CountAsync($"SELECT COUNT(*) FROM event_context c JOIN events e ON e.seq = c.seq WHERE e.id = '{id}';"));
    }

    [Theory]
    [InlineData("Host=db;Database=events", 64)]
    [InlineData("Host=db;Database=events;Max Auto Prepare=0", 0)]
    [InlineData("host=db;database=events;max auto prepare=7", 7)]
    public void The_writers_statements_are_prepared_unless_the_connection_string_says_otherwise(string connectionString, int expected) =>
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(PostgreSqlEventStore.StoreConnectionString(connectionString)).MaxAutoPrepare);

    [Theory]
    [InlineData("Host=db;Database=events", true)]
    [InlineData("Host=db;Database=events;No Reset On Close=false", false)]
    [InlineData("host=db;database=events;noresetonclose=false", false)]
    public void Pooled_connections_are_not_reset_unless_the_connection_string_says_otherwise(string connectionString, bool expected) =>
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(PostgreSqlEventStore.StoreConnectionString(connectionString)).NoResetOnClose);

    [Fact]
    public void The_store_turns_multiplexing_off_whatever_the_connection_string_says() =>
        Assert.False(new NpgsqlConnectionStringBuilder(PostgreSqlEventStore.StoreConnectionString("Host=db;Database=events;Multiplexing=true")).Multiplexing);

    [Fact]
    public async Task A_connection_string_with_multiplexing_still_stores_and_reads()
    {
        // The writers begin and commit their transactions in SQL (so that COMMIT travels in the commit's last batch), and Npgsql
        // documents SQL transactions as unsupported with multiplexing (where commands may go to any connection): a connection
        // string with Multiplexing=true must still store every event whole, with no transaction left open.
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { Multiplexing = true };
        await using var store = new PostgreSqlEventStore(builder.ToString(), new StorageOptions());
        await store.InitializeAsync(Token);
        StoredEvent[] events = [Event(), Event(context: """{"net_id":"mx"}""")];
        Assert.Equal(2, (await store.InsertAsync(events, Token)).NewCount);
        Assert.Equal(2, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Equal(1, await CountAsync("SELECT COUNT(*) FROM event_context WHERE value = 'mx';"));
        Assert.Equal(2, await CountAsync("SELECT COUNT(*) FROM events;"));
        Assert.Equal(0, await CountAsync("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%';"));
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Ping_fails_when_the_server_does_not_answer()
    {
        int unusedPort = new NpgsqlConnectionStringBuilder(_connectionString).Port;
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { Host = "127.0.0.1", Port = unusedPort == 1 ? 2 : 1, Timeout = 5 };
        await using var store = new PostgreSqlEventStore(builder.ToString());
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.PingAsync(Token));
    }
}
