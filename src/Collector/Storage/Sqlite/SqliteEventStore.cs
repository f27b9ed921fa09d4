using Instrumentation.Collector.Dashboard.Queries;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// Events in a SQLite file: WAL mode with <c>synchronous=FULL</c> (a commit is on disk when it returns), one writer
/// connection that commits the batches of concurrent requests together (<see cref="GroupCommitter"/>), pooled reader
/// connections that run alongside it, and the event id as a unique key so a retried event is not stored twice.
/// </summary>
/// <remarks>
/// Each commit writes its events and their counts (<c>event_counts</c>); the dashboard's rollups (the context index and
/// the totals) are kept in memory across commits and written together (<see cref="SqliteRollupFolder"/>): when they cover
/// <see cref="SqliteRollupFolder.FoldThreshold"/> events, when a dashboard read needs them, and when the store is
/// disposed. What a crash loses of them is recomputed from the stored events before the writer's first commit (which
/// <see cref="InitializeAsync"/> makes happen at start). One
/// collector process per file: the recomputation relies on this process's writer being the file's only one.
/// </remarks>
public sealed class SqliteEventStore : IEventStore
{
    private readonly string _connectionString;
    private readonly GroupCommitter _committer;
    private readonly TimeProvider _time;
    private readonly CountTally _tally = new();
    private readonly Rollups.DashboardRollup _rollup = new();
    private readonly List<long> _addedSeqs = [];
    private readonly SqliteRollupFolder _folder = new();
    private Rollups.SqliteRollupWriter? _rollupWriter;
    private SqliteConnection? _writer;
    private RawStatement? _insert;
    private RawStatement? _count;
    private long _lastSeq; // the writer's: the last seq given, stored or not (a rolled-back one leaves a gap)
    private bool _seqFromFile; // the writer's: a commit failed, so the next one starts above the file's seqs again
    private bool _recovered; // the writer loop's: the events a previous process left above the mark are rolled up

    /// <summary>Creates the store; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">A SQLite connection string naming the file (<c>Data Source=collector.db</c>).</param>
    /// <param name="options">The writer's queue limits.</param>
    /// <param name="timeProvider">The clock that stamps each event's <c>received_at</c> (default: the system clock).</param>
    public SqliteEventStore(string connectionString, StorageOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        options ??= new StorageOptions();
        _time = timeProvider ?? TimeProvider.System;
        var builder = new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true };
        if (string.IsNullOrEmpty(builder.DataSource))
        {
            throw new ArgumentException("The SQLite connection string must name a file ('Data Source=collector.db').", nameof(connectionString));
        }

        if (builder.DefaultTimeout < 30)
        {
            builder.DefaultTimeout = 30;
        }

        DatabasePath = Path.GetFullPath(builder.DataSource);
        builder.DataSource = DatabasePath;
        _connectionString = builder.ToString();
        _committer = new GroupCommitter(CommitAsync, options.MaxPendingBatches, options.MaxEventsPerCommit, nameof(StorageProvider.Sqlite));
        Dashboard = new DashboardQueries(_ => ValueTask.FromResult<System.Data.Common.DbConnection>(Open()), DashboardSqlDialect.Sqlite, FoldRollupsAsync);
    }

    /// <inheritdoc />
    public IDashboardQueries Dashboard { get; }

    /// <summary>A store over the file at <paramref name="path"/> (created when missing).</summary>
    /// <param name="path">The database file.</param>
    /// <param name="options">The writer's queue limits.</param>
    /// <param name="timeProvider">The clock that stamps each event's <c>received_at</c> (default: the system clock).</param>
    /// <returns>The store; call <see cref="InitializeAsync"/> before use.</returns>
    public static SqliteEventStore ForFile(string path, StorageOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new SqliteEventStore(new SqliteConnectionStringBuilder { DataSource = path }.ToString(), options, timeProvider);
    }

    /// <inheritdoc />
    public string Provider => nameof(StorageProvider.Sqlite);

    /// <summary>The database file's full path.</summary>
    public string DatabasePath { get; }

    /// <inheritdoc />
    /// <remarks>
    /// Then has the writer recompute the dashboard's rollups of the events a previous process stored and never folded
    /// (the writer would do it before its first commit anyway): an initialized store is the file's writer, even if only read.
    /// </remarks>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string? directory = Path.GetDirectoryName(DatabasePath);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        using (SqliteConnection connection = Open())
        {
            SqliteSchema.Migrate(connection);
        }

        // The sums a crash kept from being folded are recomputed by the writer loop before its first commit, never here:
        // recomputing the events above the mark while this store's writer holds some of them pending would count those
        // twice (an insert queued before this call, or a second call). The barrier makes the start do it, not the first request.
        await FoldRollupsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the dashboard's pending sums to the rollup tables and completes when they are there: a barrier through the
    /// writer's queue, answered after the events queued before it. The dashboard's rollup reads call it first, so they
    /// see every event whose insert has completed.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the fold may still happen).</param>
    /// <returns>A task that completes when the rollup tables cover every event committed before the call.</returns>
    /// <exception cref="ObjectDisposedException">The store is being disposed (the rollups are folded by the dispose).</exception>
    internal async Task FoldRollupsAsync(CancellationToken cancellationToken) =>
        // WaitAsync: the queue waits for a batch the writer has taken (an insert's result must be known), but a reader's
        // barrier holds nothing to wait for, and a writer stuck on the file's lock would keep a cancelled read waiting.
        await _committer.SubmitAsync(SqliteRollupFolder.FoldRequest.Instance, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task<InsertResult> InsertAsync(IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        // Prepared here, on the caller's thread: what the single writer would otherwise format and sum per event.
        return events.Count == 0 ? Task.FromResult(InsertResult.Empty) : _committer.SubmitAsync(new PreparedBatch(events), cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<EventRow> ReadAsync(EventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        EventQuerySql.AppendSelect(command, query, SqliteDialect.Instance);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new EventRow(reader.GetString(0), new EventCursor(reader.GetInt64(1), reader.GetInt64(2)));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<EventCountBucket> CountByTimeAsync(EventCountQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        EventQuerySql.AppendCount(command, query);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new EventCountBucket(new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero), reader.GetString(1), reader.GetInt64(2));
        }
    }

    /// <inheritdoc />
    public async Task<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT type, priority, count, first_ticks, last_ticks FROM event_counts;";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await StatisticsReader.ReadAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task PingAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_version;";
        command.ExecuteScalar();
        return Task.CompletedTask;
    }

    /// <summary>Commits what is queued, writes the dashboard's pending sums, then closes the database.</summary>
    /// <returns>A task that completes when the database is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _committer.DisposeAsync().ConfigureAwait(false);
        try
        {
            // The writer loop has ended: the pending sums are this thread's now. Should this fail, the next start
            // recomputes them from the stored events.
            if (_writer is not null && _folder.PendingEvents > 0)
            {
                using SqliteTransaction transaction = _writer.BeginTransaction(deferred: false);
                var none = new Rollups.DashboardRollup();
                _folder.WriteFold(_rollupWriter!, none, []);
                transaction.Commit();
                _folder.Committed(folded: true, none, []);
            }
        }
        finally
        {
            DisposeStatements();
            _writer?.Dispose();
        }

        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }
    }

    /// <summary>The writer's transaction (only the <see cref="GroupCommitter"/> loop calls it, one at a time).</summary>
    private Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
    {
        var results = new InsertResult[batches.Count];
        (SqliteConnection writer, RawStatement insert, RawStatement count) = Writer();
        if (!_recovered)
        {
            // Before this writer's first commit (a failure leaves it for the next): the events above the mark are then
            // exactly those a previous process stored and never folded, none of them pending here.
            SqliteRollupFolder.Recover(writer);
            _recovered = true;
        }

        if (_folder.PendingEvents == 0 && batches.All(b => b is SqliteRollupFolder.FoldRequest))
        {
            Array.Fill(results, InsertResult.Empty); // readers' barriers with nothing pending: no transaction
            return Task.FromResult(results);
        }

        if (_seqFromFile)
        {
            // A seq this writer would give may be taken (a row another program wrote, which the constraint on seq refused):
            // without this, every later commit would fail on it. Never below what this writer gave.
            _lastSeq = Math.Max(_lastSeq, LastStoredSeq(writer));
            _seqFromFile = false;
        }

        try
        {
            return Task.FromResult(Commit(writer, insert, count, batches, results));
        }
        catch
        {
            _seqFromFile = true;
            throw;
        }
    }

    private InsertResult[] Commit(SqliteConnection writer, RawStatement insert, RawStatement count, IReadOnlyList<IReadOnlyList<StoredEvent>> batches, InsertResult[] results)
    {
        _tally.Clear();
        _rollup.Clear();
        _addedSeqs.Clear();
        bool foldRequested = false;
        using SqliteTransaction transaction = writer.BeginTransaction(deferred: false);
        Span<byte> text = stackalloc byte[64];
        _time.GetUtcNow().TryFormat(text, out int length, "O", CultureInfo.InvariantCulture);
        insert.Bind(6, text[..length]); // received_at: one value for the whole transaction
        for (int b = 0; b < batches.Count; b++)
        {
            if (batches[b] is not PreparedBatch events) // InsertAsync queues nothing else; FoldRollupsAsync a fold request
            {
                foldRequested = true;
                results[b] = InsertResult.Empty;
                continue;
            }

            bool[] isNew = new bool[events.Count];
            int added = 0;
            for (int i = 0; i < events.Count; i++)
            {
                StoredEvent item = events[i];
                long seq = _lastSeq + 1;
                insert.Bind(8, seq);
                insert.BindBlob(1, events.IdBytes(i));
                insert.Bind(4, events.TimestampText(i));
                insert.Bind(2, item.Type);
                insert.Bind(3, item.Priority);
                insert.Bind(5, item.Timestamp.UtcTicks);
                insert.Bind(7, item.Utf8Json.Span);
                if (insert.Execute() == 1)
                {
                    // The context index is keyed by seq. The seqs go in the order the rollup below gets the new events (a
                    // batch's sums cover its events in order), which is how its rows refer to them.
                    _lastSeq = seq;
                    _addedSeqs.Add(seq);
                    isNew[i] = true;
                    added++;
                }
            }

            if (added == events.Count)
            {
                _tally.Add(events.Tally); // every event new: the sums made on the request's thread hold
                _rollup.Add(events.Rollup);
            }
            else
            {
                for (int i = 0; i < events.Count; i++)
                {
                    if (isNew[i])
                    {
                        _tally.Add(events[i]);
                        _rollup.Add(events[i]);
                    }
                }
            }

            results[b] = new InsertResult(isNew);
        }

        foreach ((string type, string priority, CountTally.Entry entry) in _tally.Ordered())
        {
            count.Bind(1, type);
            count.Bind(2, priority);
            count.Bind(3, entry.Count);
            count.Bind(4, entry.FirstTicks);
            count.Bind(5, entry.LastTicks);
            count.Execute();
        }

        if (_addedSeqs.Count != _rollup.EventCount)
        {
            throw new InvalidOperationException($"The commit added {_addedSeqs.Count} events but its rollup sums {_rollup.EventCount}.");
        }

        bool fold = _folder.ShouldFold(_rollup, foldRequested);
        if (fold)
        {
            _folder.WriteFold(_rollupWriter!, _rollup, _addedSeqs);
        }

        transaction.Commit();
        _folder.Committed(fold, _rollup, _addedSeqs);
        return results;
    }

    private (SqliteConnection, RawStatement, RawStatement) Writer()
    {
        if (_writer is null)
        {
            // Set up on a local and kept only when complete: a failure half-way (the file unreadable, a pragma refused)
            // leaves no half-made writer behind, and the next commit tries again.
            SqliteConnection connection = Open();
            try
            {
                Prepare(connection);
            }
            catch
            {
                DisposeStatements();
                connection.Dispose();
                throw;
            }

            _writer = connection;
        }

        return (_writer, _insert!, _count!);
    }

    private void Prepare(SqliteConnection writer)
    {
        using (SqliteCommand pragma = writer.CreateCommand())
        {
            // FULL: a commit is on disk when it returns (the request is answered after it). A larger page cache keeps
            // the id index's pages in memory: ids are random, so each insert touches a random leaf page.
            pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;";
            pragma.ExecuteNonQuery();
        }

        _insert = new RawStatement(
            writer,
            """
            INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json, seq)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT (id) DO NOTHING;
            """);
        _lastSeq = LastStoredSeq(writer);

        _count = new RawStatement(
            writer,
            """
            INSERT INTO event_counts (type, priority, count, first_ticks, last_ticks) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (type, priority) DO UPDATE SET
                count = count + excluded.count,
                first_ticks = MIN(first_ticks, excluded.first_ticks),
                last_ticks = MAX(last_ticks, excluded.last_ticks);
            """);
        _rollupWriter = new Rollups.SqliteRollupWriter(writer);
    }

    /// <summary>
    /// The seq the writer's next event goes above. Each event's seq is one above the last given (schema 6, no
    /// AUTOINCREMENT), starting above every stored seq and the rollup mark: the events above the mark are then exactly
    /// those not yet rolled up (<see cref="SqliteRollupFolder"/>), even after the newest rows were deleted by hand. Such a
    /// deleted seq may be given again (after a restart): the explorer's pages order by time first, but a live tail that
    /// had shown the deleted event misses the new ones given its seq or a lower one.
    /// </summary>
    private static long LastStoredSeq(SqliteConnection writer)
    {
        using SqliteCommand last = writer.CreateCommand();
        last.CommandText = "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0), (SELECT through_seq FROM rollup_mark));";
        return (long)last.ExecuteScalar()!;
    }

    /// <summary>Finalizes the writer's statements: they must go before their connection is closed or returned to the pool.</summary>
    private void DisposeStatements()
    {
        _insert?.Dispose();
        _insert = null;
        _count?.Dispose();
        _count = null;

        _rollupWriter?.Dispose();
        _rollupWriter = null;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private sealed class SqliteDialect : EventQuerySql.IDialect
    {
        public static readonly SqliteDialect Instance = new();

        public string ContextEquals(string keyParameter, string valueParameter) =>
            $"EXISTS (SELECT 1 FROM json_each(events.json, '$.context') AS c WHERE c.key = {keyParameter} AND c.type = 'text' AND c.value = {valueParameter})";

        public string DataContains(string textParameter) => $"instr(json_extract(events.json, '$.data'), {textParameter}) > 0";
    }
}
