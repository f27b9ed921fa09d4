using Instrumentation.Collector.Dashboard.Queries;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;

namespace Instrumentation.Collector.Storage.PostgreSql;

/// <summary>
/// Events in a PostgreSQL database that any number of collector instances share. Each instance has a few writers
/// (<see cref="StorageOptions.PostgreSqlWriters"/>), each committing the batches of concurrent requests together
/// (<see cref="GroupCommitter"/>) on its own connection, with one multi-row <c>INSERT … SELECT FROM unnest(…)
/// RETURNING id, seq</c>. The unique index on id makes an event uploaded twice (to the same or to another instance)
/// stored once, and the counts table is updated in the same transaction from the rows actually added.
/// </summary>
/// <remarks>
/// <para>
/// Ids are deduplicated by <c>ON CONFLICT (id) DO NOTHING</c>, but not on every commit: a speculative insertion costs
/// the server an extra step per row (measured with pgbench, the insert alone: 125-139 k rows/s with the clause, 141-162 k
/// without; docs/benchmarks.md section 0), and nearly every uploaded id is new. So a commit
/// first sends a plain <c>INSERT</c> of its group's distinct ids. If an id is already stored, or another transaction is
/// inserting it, the unique index on id makes the server refuse that insert (a unique violation); the transaction is
/// rolled back whole and the group is sent again with <c>ON CONFLICT (id) DO NOTHING</c>, which stores the new events
/// and skips the others. After such a conflict every commit uses the conflict clause for
/// <see cref="ConflictClauseWindow"/>: duplicates come in runs (an uploader replaying its spool after a lost answer), and
/// each plain attempt that fails costs a round trip and the rows it had inserted.
/// </para>
/// <para>
/// Two transactions that insert the same id concurrently (two writers, or two instances) are ordered by the unique
/// index: the second waits for the first and, once it commits, either fails (plain insert, then sent again) or inserts
/// nothing for that id and gets no <c>RETURNING</c> row for it, so exactly one of them reports the event as new.
/// </para>
/// </remarks>
public sealed class PostgreSqlEventStore : IEventStore
{
    // Rows go in id order: two instances inserting overlapping ids then wait on each other's unique-index entries in
    // the same order, never in a cycle (a deadlock would abort one transaction). A group's ids are distinct (EventColumns
    // keeps the first occurrence of each, the one InsertResult reports as new).
    private const string InsertSql = """
        INSERT INTO events (id, type, priority, timestamp_ticks, "timestamp", received_at, json)
        SELECT id, type, priority, ticks, ts, @received, json
        FROM unnest(@ids, @types, @priorities, @ticks, @times, @jsons) AS input(id, type, priority, ticks, ts, json)
        ORDER BY id

        """;

    private const string PlainInsertSql = InsertSql + "RETURNING id, seq;";

    private const string SkipDuplicatesInsertSql = InsertSql + "ON CONFLICT (id) DO NOTHING RETURNING id, seq;";

    /// <summary>
    /// How long after a conflict every commit uses <c>ON CONFLICT (id) DO NOTHING</c> before trying a plain insert again.
    /// </summary>
    internal static readonly TimeSpan ConflictClauseWindow = TimeSpan.FromSeconds(10);

    private const string CountSql = """
        INSERT INTO event_counts (type, priority, count, first_ticks, last_ticks)
        SELECT * FROM unnest(@types, @priorities, @counts, @firsts, @lasts) AS r(type, priority, count, first_ticks, last_ticks)
        ORDER BY type, priority
        ON CONFLICT (type, priority) DO UPDATE SET
            count = event_counts.count + excluded.count,
            first_ticks = LEAST(event_counts.first_ticks, excluded.first_ticks),
            last_ticks = GREATEST(event_counts.last_ticks, excluded.last_ticks);
        """;

    /// <summary>
    /// Events that must be waiting before a second writer starts a transaction beside the first. Every transaction ends
    /// by updating the same totals rows, so concurrent ones take turns there, but only for the last round trip and the
    /// commit's flush (<see cref="CommitAsync"/>): meanwhile the other writer's insert runs. Measured with batches of 50
    /// from 8 clients (at most 400 events waiting): a threshold of 100 gave 52-89 k events/s against 45-73 k with 1,000
    /// (the second writer then never started), at 10-20 % more server CPU per event; with no threshold (a second
    /// transaction for a single small request) the gain was smaller and uneven. Below 100 events one transaction stays
    /// cheaper than two.
    /// </summary>
    private const int ExtraWriterMinEvents = 100;

    private readonly NpgsqlDataSource _dataSource;
    private readonly GroupCommitter _committer;
    private readonly TimeProvider _time;

    /// <summary>
    /// Until when commits insert with the conflict clause, as a <see cref="TimeProvider.GetTimestamp"/> value (monotonic:
    /// a wall clock stepped back or forward neither stretches nor cuts the window): set by the writer whose plain insert
    /// met a duplicate, read by every writer as it begins a commit (a writer may read it a moment late: that costs at
    /// most one more plain attempt, sent again like the first).
    /// </summary>
    private long _conflictClauseUntil = long.MinValue;

    /// <summary>Creates the store; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">An Npgsql connection string (<c>Host=…;Database=…;Username=…;Password=…</c>).</param>
    /// <param name="options">The writer's queue limits.</param>
    /// <param name="timeProvider">The clock that stamps each event's <c>received_at</c> (default: the system clock; the
    /// column's <c>now()</c> default is only for rows written by other tools).</param>
    public PostgreSqlEventStore(string connectionString, StorageOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        options ??= new StorageOptions();
        _time = timeProvider ?? TimeProvider.System;
        _dataSource = NpgsqlDataSource.Create(StoreConnectionString(connectionString));
        _committer = new GroupCommitter(CommitAsync, options.MaxPendingBatches, options.MaxEventsPerCommit, nameof(StorageProvider.PostgreSql), options.PostgreSqlWriters, ExtraWriterMinEvents);
        Dashboard = new DashboardQueries(
            async cancellationToken => await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false),
            DashboardSqlDialect.PostgreSql);
    }

    /// <inheritdoc />
    public IDashboardQueries Dashboard { get; }

    /// <inheritdoc />
    public string Provider => nameof(StorageProvider.PostgreSql);

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => PostgreSqlSchema.MigrateAsync(_dataSource, cancellationToken);

    /// <inheritdoc />
    public Task<InsertResult> InsertAsync(IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        return events.Count == 0 ? Task.FromResult(InsertResult.Empty) : _committer.SubmitAsync(events, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<EventRow> ReadAsync(EventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using NpgsqlCommand command = connection.CreateCommand();
        EventQuerySql.AppendSelect(command, query, PostgreSqlDialect.Instance);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string json = reader.GetString(0);
            yield return new EventRow(json, new EventCursor(reader.GetInt64(1), reader.GetInt64(2)));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<EventCountBucket> CountByTimeAsync(EventCountQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using NpgsqlCommand command = connection.CreateCommand();
        EventQuerySql.AppendCount(command, query);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new EventCountBucket(new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero), reader.GetString(1), reader.GetInt64(2));
        }
    }

    /// <inheritdoc />
    public async Task<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken)
    {
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT type, priority, count, first_ticks, last_ticks FROM event_counts;", connection);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await StatisticsReader.ReadAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT 1;", connection);
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Commits what is queued, then closes the connections.</summary>
    /// <returns>A task that completes when the connections are closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _committer.DisposeAsync().ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The connection string the store opens its connections with. The writers run the same few statements in every
    /// transaction: prepared once per connection (Npgsql's automatic preparation), the server parses and plans them once
    /// instead of on every commit, which is most of a small commit's server time. An explicit <c>Max Auto Prepare</c> in
    /// the connection string (0 for a pooler that cannot keep prepared statements) is kept as given. Multiplexing is
    /// turned off whatever the string says: a writer begins and commits its transaction in SQL (so that COMMIT travels in
    /// the commit's last batch), which needs both round trips on the connection that began it, and Npgsql documents SQL
    /// transactions as unsupported with multiplexing (measured: with the events' JSON sent as bytes, a multiplexed commit
    /// left its events uncommitted on another connection). <c>No Reset On Close</c> is on unless the string says otherwise:
    /// the store's connections leave no session state behind (every transaction is committed or rolled back before the
    /// connection goes back to the pool, and nothing is <c>SET</c>), and the reset Npgsql would otherwise send with
    /// the next use of a pooled connection is seven statements, one set per commit.
    /// </summary>
    internal static string StoreConnectionString(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        bool Given(string name) => given.Keys.Cast<string>().Any(key => string.Equals(key.Replace(" ", string.Empty, StringComparison.Ordinal), name, StringComparison.OrdinalIgnoreCase));
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!Given("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 64;
            builder.AutoPrepareMinUsages = 2;
        }

        if (!Given("NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        builder.Multiplexing = false;
        return builder.ConnectionString;
    }

    /// <summary>One writer's transaction (the <see cref="GroupCommitter"/>'s writers call it concurrently, each on its own connection).</summary>
    private async Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
    {
        var columns = new EventColumns(batches);
        bool skipDuplicates = _time.GetTimestamp() < Volatile.Read(ref _conflictClauseUntil);
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            try
            {
                return await AttemptAsync(connection, batches, columns, skipDuplicates, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException conflict) when (!skipDuplicates && IsDuplicateEvent(conflict))
            {
                // An id of the group is stored already, or another transaction stored it meanwhile: nothing of the plain
                // insert stays, and the group goes again with the conflict clause, on the same connection.
                await RollBackAsync(connection).ConfigureAwait(false);
                Volatile.Write(ref _conflictClauseUntil, _time.GetTimestamp() + (long)(ConflictClauseWindow.TotalSeconds * _time.TimestampFrequency));
                StoreMetrics.DuplicateRetries.Add(1);
                return await AttemptAsync(connection, batches, columns, skipDuplicates: true, cancellationToken).ConfigureAwait(false);
            }
        }
        catch when (connection.State == System.Data.ConnectionState.Open)
        {
            // Nothing of a failed group stays: end its transaction before the connection goes back to the pool (ROLLBACK
            // after a COMMIT that failed, or before BEGIN ran, only draws a warning).
            await RollBackAsync(connection).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>One attempt at the group's transaction, begun and ended (or left failed) on <paramref name="connection"/>.</summary>
    private async Task<InsertResult[]> AttemptAsync(NpgsqlConnection connection, IReadOnlyList<IReadOnlyList<StoredEvent>> batches, EventColumns columns, bool skipDuplicates, CancellationToken cancellationToken)
    {
        // Two round trips: BEGIN with the insert (its RETURNING says which events are new and their seqs), then everything
        // that follows from that, with COMMIT, in one batch. The transaction is begun and ended in SQL rather than through
        // NpgsqlTransaction so that COMMIT can travel in that batch; after a failure the caller rolls it back.
        var added = new Dictionary<Guid, long>(columns.Ids.Length); // id → seq of each event this transaction added
        await using (var insert = new NpgsqlBatch(connection))
        {
            insert.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            var rows = new NpgsqlBatchCommand(skipDuplicates ? SkipDuplicatesInsertSql : PlainInsertSql);
            columns.AddParameters(rows.Parameters);
            rows.Parameters.Add(new NpgsqlParameter<DateTime>("received", NpgsqlDbType.TimestampTz) { TypedValue = _time.GetUtcNow().UtcDateTime });
            insert.BatchCommands.Add(rows);
            await using NpgsqlDataReader reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            do
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    added.Add(reader.GetGuid(0), reader.GetInt64(1));
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        // An id is new for its first occurrence in this transaction only (a later copy in the same group is a duplicate).
        var results = new InsertResult[batches.Count];
        var tally = new CountTally();
        var rollup = new Rollups.DashboardRollup();
        var seqs = new List<long>(added.Count); // in the order the rollup gets the new events: its context rows refer to them so
        for (int b = 0; b < batches.Count; b++)
        {
            IReadOnlyList<StoredEvent> batch = batches[b];
            bool[] isNew = new bool[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                if (added.Remove(batch[i].Id, out long seq))
                {
                    seqs.Add(seq);
                    isNew[i] = true;
                    tally.Add(batch[i]);
                    rollup.Add(batch[i]);
                }
            }

            results[b] = new InsertResult(isNew);
        }

        // Then, in one round trip: the context index rows (this commit's own, no other transaction touches them), the
        // totals every transaction updates, last (see PostgreSqlRollupWriter for their lock order), and COMMIT. A failed
        // statement makes the server skip the rest of the batch, COMMIT included.
        await using (var rest = new NpgsqlBatch(connection))
        {
            Rollups.PostgreSqlRollupWriter.AddContextRows(rest, rollup, seqs);
            if (tally.Count > 0)
            {
                var ordered = tally.Ordered().ToArray();
                var count = new NpgsqlBatchCommand(CountSql);
                count.Parameters.Add(Rollups.PostgreSqlRollupWriter.Array("types", NpgsqlDbType.Text, ordered.Select(e => e.Type)));
                count.Parameters.Add(Rollups.PostgreSqlRollupWriter.Array("priorities", NpgsqlDbType.Text, ordered.Select(e => e.Priority)));
                count.Parameters.Add(Rollups.PostgreSqlRollupWriter.Array("counts", NpgsqlDbType.Bigint, ordered.Select(e => e.Entry.Count)));
                count.Parameters.Add(Rollups.PostgreSqlRollupWriter.Array("firsts", NpgsqlDbType.Bigint, ordered.Select(e => e.Entry.FirstTicks)));
                count.Parameters.Add(Rollups.PostgreSqlRollupWriter.Array("lasts", NpgsqlDbType.Bigint, ordered.Select(e => e.Entry.LastTicks)));
                rest.BatchCommands.Add(count);
            }

            Rollups.PostgreSqlRollupWriter.AddTotals(rest, rollup);
            rest.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await rest.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return results;
    }

    /// <summary>
    /// Whether the plain insert met an id already stored or being stored: a unique violation on <c>events</c>, whose
    /// other unique key (<c>seq</c>) the server generates. The table, not the constraint's name, is what is checked, so
    /// that a database restored or migrated by other tools under other names is handled alike; a violation that the
    /// conflict clause does not resolve fails the second attempt as it failed the first.
    /// </summary>
    private static bool IsDuplicateEvent(PostgresException exception) =>
        exception.SqlState == PostgresErrorCodes.UniqueViolation && exception.TableName == "events";

    /// <summary>Ends the connection's transaction, if any; a failure here (the server gone) leaves the first error to report.</summary>
    private static async Task RollBackAsync(NpgsqlConnection connection)
    {
        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            // Npgsql drops a broken connection instead of pooling it, so no transaction outlives it.
        }
    }

    private sealed class PostgreSqlDialect : EventQuerySql.IDialect
    {
        public static readonly PostgreSqlDialect Instance = new();

        public string ContextEquals(string keyParameter, string valueParameter) =>
            $"(events.json::json -> 'context' ->> {keyParameter}) = {valueParameter}";

        public string DataContains(string textParameter) => $"strpos((events.json::json -> 'data')::text, {textParameter}) > 0";
    }
}
