using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.PostgreSql;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The PostgreSQL store inserts without a conflict clause until an id is a duplicate, then sends that group again with
/// <c>ON CONFLICT (id) DO NOTHING</c> and keeps the clause for a while. What the store reports and stores is the same
/// either way; the retries counter (the meter is the process's, so this runs in the collection no other test runs
/// beside) shows which way each commit went.
/// </summary>
[Collection(EndToEnd.Name)]
public sealed class PostgreSqlDuplicateRetryTests(PostgreSqlServer server) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _stores = [];
    private string? _connectionString;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_stored_id_sends_its_group_again_with_the_conflict_clause_which_later_commits_keep_for_a_while()
    {
        using var retries = new MetricCollector<long>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.duplicate_retries");
        var time = new FakeTimeProvider(EventStoreContract.T0);
        PostgreSqlEventStore store = await OpenAsync(time);
        StoredEvent[] first = [Event(), Event()];
        Assert.Equal(new[] { true, true }, IsNew(await store.InsertAsync(first, Token), 2));
        Assert.Equal(0, Retries(retries));

        // A stored id among new ones: the plain insert fails, the group goes again and stores the new ones only.
        Assert.Equal(new[] { false, true, true }, IsNew(await store.InsertAsync([first[0], Event(), Event()], Token), 3));
        Assert.Equal(1, Retries(retries));

        // Within the window, commits use the clause from the start: a duplicate costs no second attempt.
        time.Advance(PostgreSqlEventStore.ConflictClauseWindow - TimeSpan.FromSeconds(1));
        Assert.Equal(new[] { false, true }, IsNew(await store.InsertAsync([first[1], Event()], Token), 2));
        Assert.Equal(new[] { true }, IsNew(await store.InsertAsync([Event()], Token), 1));
        Assert.Equal(1, Retries(retries));

        // After it, a plain insert again: new events go through at once, a duplicate sends its group again.
        time.Advance(PostgreSqlEventStore.ConflictClauseWindow);
        Assert.Equal(new[] { true, true }, IsNew(await store.InsertAsync([Event(), Event()], Token), 2));
        Assert.Equal(1, Retries(retries));
        Assert.Equal(new[] { true, false }, IsNew(await store.InsertAsync([Event(), first[0]], Token), 2));
        Assert.Equal(2, Retries(retries));

        await AssertStoredAsync(store, 2 + 2 + 1 + 1 + 2 + 1);
    }

    [Fact]
    public async Task An_id_given_twice_in_one_group_is_sent_once_and_needs_no_second_attempt()
    {
        using var retries = new MetricCollector<long>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.duplicate_retries");
        PostgreSqlEventStore store = await OpenAsync(new FakeTimeProvider(EventStoreContract.T0));
        StoredEvent twice = Event();
        StoredEvent other = Event();

        Assert.Equal(new[] { true, false, true, false }, IsNew(await store.InsertAsync([twice, twice, other, twice], Token), 4));

        Assert.Equal(0, Retries(retries));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM events;"));
        Assert.Equal(2, (await store.GetStatisticsAsync(Token)).Total);
    }

    [Fact]
    public async Task Instances_that_each_store_ids_the_other_is_storing_report_each_new_once_after_going_again()
    {
        // Two instances (each with two writers) given the same fresh ids at once (in opposite orders, which the server's
        // ORDER BY id undoes): whichever inserts the lowest id first stores them all, the other's plain insert fails (at
        // once, or after waiting for the first to commit) and its group goes again with the clause.
        using var retries = new MetricCollector<long>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.duplicate_retries");
        PostgreSqlEventStore first = await OpenAsync(TimeProvider.System);
        PostgreSqlEventStore second = await OpenAsync(TimeProvider.System);
        StoredEvent[] events = [.. Enumerable.Range(0, 600).Select(_ => Event())];

        InsertResult[] results = await Task.WhenAll(
            Task.Run(() => first.InsertAsync(events, Token)),
            Task.Run(() => second.InsertAsync([.. events.Reverse()], Token)));

        Assert.Equal(events.Length, results.Sum(r => r.NewCount));
        Assert.Equal(events.Length, await CountAsync("SELECT count(*) FROM events;"));
        Assert.Equal(events.Length, await CountAsync("SELECT count(*) FROM event_context;"));
        Assert.Equal(events.Length, (await first.GetStatisticsAsync(Token)).Total);
        Assert.Equal(1, Retries(retries)); // the instance that lost the race, once: its second attempt has the clause
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_plain_insert_that_waits_for_another_transaction_inserting_its_id_goes_again_only_if_that_one_commits(bool commits)
    {
        using var retries = new MetricCollector<long>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.duplicate_retries");
        PostgreSqlEventStore store = await OpenAsync(new FakeTimeProvider(EventStoreContract.T0));
        StoredEvent held = Event();
        StoredEvent fresh = Event();

        // Another writer (another instance, say) has inserted held's id and not committed yet.
        await using var other = new NpgsqlConnection(_connectionString);
        await other.OpenAsync(Token);
        await using NpgsqlTransaction transaction = await other.BeginTransactionAsync(Token);
        await using (var insert = new NpgsqlCommand("INSERT INTO events (id, type, priority, timestamp_ticks, \"timestamp\", json) VALUES (@id, @type, @priority, @ticks, @at, @json);", other, transaction))
        {
            insert.Parameters.AddWithValue("id", held.Id);
            insert.Parameters.AddWithValue("type", held.Type);
            insert.Parameters.AddWithValue("priority", held.Priority);
            insert.Parameters.AddWithValue("ticks", held.Timestamp.UtcTicks);
            insert.Parameters.AddWithValue("at", held.Timestamp.UtcDateTime);
            insert.Parameters.AddWithValue("json", held.Json);
            await insert.ExecuteNonQueryAsync(Token);
        }

        Task<InsertResult> pending = store.InsertAsync([fresh, held], Token);
        for (int polls = 0; await CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock';") == 0; polls++)
        {
            // Until the store's plain insert waits on the other transaction's index entry (a condition, not a timing).
            Assert.False(pending.IsCompleted, "The store's insert did not wait for the transaction holding its id.");
            Assert.True(polls < 6000, "The store's insert never waited for the transaction holding its id.");
            await Task.Delay(10, Token);
        }

        if (commits)
        {
            await transaction.CommitAsync(Token);
        }
        else
        {
            await transaction.RollbackAsync(Token);
        }

        // Committed: the plain insert fails and the group goes again, held not new. Rolled back: the plain insert stores both.
        Assert.Equal(new[] { true, !commits }, IsNew(await pending, 2));
        Assert.Equal(commits ? 1 : 0, Retries(retries));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM events;"));
        Assert.Equal(commits ? 1 : 2, (await store.GetStatisticsAsync(Token)).Total); // the other writer's counts are its own
    }

    [Fact]
    public async Task The_window_runs_on_the_monotonic_clock_so_a_wall_clock_stepped_back_does_not_stretch_it()
    {
        using var retries = new MetricCollector<long>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.duplicate_retries");
        var clock = new SteppedClock(EventStoreContract.T0);
        PostgreSqlEventStore store = await OpenAsync(clock);
        StoredEvent stored = Event();
        await store.InsertAsync([stored], Token);
        Assert.Equal(new[] { false, true }, IsNew(await store.InsertAsync([stored, Event()], Token), 2));
        Assert.Equal(1, Retries(retries));

        // The wall clock goes back an hour (an NTP step, a restored VM) while the window's time passes: the window is over,
        // so the next duplicate meets a plain insert again (against the wall clock the window would last another hour).
        clock.StepWallClock(TimeSpan.FromHours(-1));
        clock.Elapse(PostgreSqlEventStore.ConflictClauseWindow + TimeSpan.FromSeconds(1));
        Assert.Equal(new[] { false, true }, IsNew(await store.InsertAsync([stored, Event()], Token), 2));
        Assert.Equal(2, Retries(retries));
        Assert.Equal(3, (await store.GetStatisticsAsync(Token)).Total);
    }

    [Fact]
    public async Task A_second_attempt_that_fails_stores_nothing_of_its_group_and_leaves_no_transaction_open()
    {
        PostgreSqlEventStore store = await OpenAsync(new FakeTimeProvider(EventStoreContract.T0));
        StoredEvent stored = Event();
        await store.InsertAsync([stored], Token);
        await FailInsertStatementAsync(2, "RAISE EXCEPTION 'injected failure of the second attempt'");

        StoredEvent fresh = Event();
        var failure = await Assert.ThrowsAsync<PostgresException>(() => store.InsertAsync([stored, fresh], Token));
        Assert.Contains("injected failure", failure.MessageText, StringComparison.Ordinal);
        await AssertStoredAsync(store, 1);

        // The connection went back to the pool usable, and the group can be sent again (the window is on: one attempt).
        Assert.Equal(new[] { false, true }, IsNew(await store.InsertAsync([stored, fresh], Token), 2));
        await AssertStoredAsync(store, 2);
    }

    [Fact]
    public async Task A_connection_the_server_drops_after_the_first_attempt_fails_the_group_without_storing_any_of_it()
    {
        PostgreSqlEventStore store = await OpenAsync(new FakeTimeProvider(EventStoreContract.T0));
        StoredEvent stored = Event();
        await store.InsertAsync([stored], Token);
        await FailInsertStatementAsync(2, "PERFORM pg_terminate_backend(pg_backend_pid())");

        StoredEvent fresh = Event();
        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.InsertAsync([stored, fresh], Token));
        Assert.True(failure is not PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }, failure.ToString());
        await AssertStoredAsync(store, 1);

        // The broken connection is not pooled: the next commit opens another one.
        Assert.Equal(new[] { false, true }, IsNew(await store.InsertAsync([stored, fresh], Token), 2));
        await AssertStoredAsync(store, 2);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    private static StoredEvent Event() => EventStoreContract.Event(at: EventStoreContract.T0);

    private static bool[] IsNew(InsertResult result, int count) => [.. Enumerable.Range(0, count).Select(result.IsNew)];

    private static long Retries(MetricCollector<long> retries) => retries.GetMeasurementSnapshot().Sum(m => m.Value);

    private async Task<PostgreSqlEventStore> OpenAsync(TimeProvider time)
    {
        _connectionString ??= await server.CreateDatabaseAsync();
        var store = new PostgreSqlEventStore(_connectionString, new StorageOptions { Provider = StorageProvider.PostgreSql }, time);
        _stores.Add(store);
        await store.InitializeAsync(Token);
        return store;
    }

    /// <summary>
    /// Makes the <paramref name="statement"/>-th insert into events from now on (counted by a sequence, which a rollback
    /// does not undo) run <paramref name="action"/> before any row: the way to fail a writer's second attempt alone.
    /// </summary>
    private async Task FailInsertStatementAsync(int statement, string action)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(
            $"""
            CREATE SEQUENCE insert_statements;
            CREATE FUNCTION fail_an_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('insert_statements') = {statement} THEN {action}; END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER fail_an_insert BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION fail_an_insert();
            """,
            connection);
        await command.ExecuteNonQueryAsync(Token);
    }

    /// <summary>The events table, the counts, the context index and the rollups all hold <paramref name="events"/> events, and no transaction is left open.</summary>
    private async Task AssertStoredAsync(PostgreSqlEventStore store, long events)
    {
        Assert.Equal(events, await CountAsync("SELECT count(*) FROM events;"));
        Assert.Equal(events, (await store.GetStatisticsAsync(Token)).Total);
        Assert.Equal(events, await CountAsync("SELECT count(*) FROM event_context;"));
        Assert.Equal(events, await CountAsync("SELECT sum(count) FROM event_minutes;"));
        Assert.Equal(events, await CountAsync("SELECT sum(events) FROM context_values;"));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%';"));
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A clock whose wall time can be stepped apart from its monotonic timestamp, as a real host's can.</summary>
    private sealed class SteppedClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;
        private long _timestamp;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override DateTimeOffset GetUtcNow() => _now;

        public override long GetTimestamp() => _timestamp;

        public void Elapse(TimeSpan span)
        {
            _now += span;
            _timestamp += span.Ticks;
        }

        public void StepWallClock(TimeSpan step) => _now += step;
    }
}
