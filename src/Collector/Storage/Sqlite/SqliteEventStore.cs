using Instrumentation.Collector.Dashboard.Queries;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// Events in a SQLite file: WAL mode with <c>synchronous=FULL</c> (a commit is on disk when it returns), one writer
/// (<see cref="SqliteWriter"/>) that commits the batches of concurrent requests together (<see cref="GroupCommitter"/>),
/// pooled reader connections that run alongside it, and the event id as a unique key so a retried event is not stored
/// twice.
/// </summary>
/// <remarks>
/// Each commit writes its events and their counts (<c>event_counts</c>). The dashboard's rollups (the context index and
/// the totals) live in a second file beside it, <see cref="RollupPath"/>, written by a second writer on a loop of its
/// own (<see cref="SqliteFoldWriter"/>): each commit hands it its new events' sums, which it keeps in memory and writes
/// together (<see cref="SqliteRollupFolder"/>) when they cover <see cref="SqliteRollupFolder.FoldThreshold"/> events,
/// when a dashboard read needs them (<see cref="FoldWaiters"/>), and when the store is disposed. Everything in that file
/// is derived from the events file: what a crash loses of it is read back from the stored events at the next start, and
/// it is rebuilt whole when it is missing or does not match. One collector process per file: the read-back relies on
/// this process's writer being the events file's only one.
/// </remarks>
public sealed class SqliteEventStore : IEventStore
{
    private readonly string _connectionString;
    private readonly GroupCommitter _committer;
    private readonly SqliteWriter _writer;
    private readonly SqliteFoldWriter _folds;
    private readonly FoldWaiters _foldWaiters = new();

    /// <summary>
    /// Held from <see cref="InitializeAsync"/> (or the events writer's start, for a store written before it) to the end of
    /// <see cref="DisposeAsync"/>: the file is this store's.
    /// </summary>
    private readonly SqliteFileLock _fileLock;

    /// <summary>Creates the store; call <see cref="InitializeAsync"/> before use.</summary>
    /// <param name="connectionString">A SQLite connection string naming the file (<c>Data Source=collector.db</c>).</param>
    /// <param name="options">The writer's queue limits.</param>
    /// <param name="timeProvider">The clock that stamps each event's <c>received_at</c> (default: the system clock).</param>
    /// <param name="logger">
    /// Where the rollup file's troubles are told: the first of a run of failed folds (an error; the next ones at debug
    /// level, the fold that succeeds again as information), a damaged file rebuilt (a warning), events read back after a
    /// crash or a failed fold (information) (default: not told).
    /// </param>
    public SqliteEventStore(string connectionString, StorageOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(connectionString, options, timeProvider, logger, SqliteFoldWriter.DefaultQueueCapacity)
    {
    }

    /// <summary>The store with the fold writer's queue of <paramref name="foldQueueCapacity"/> items (tests fill a small one).</summary>
    internal SqliteEventStore(string connectionString, StorageOptions? options, TimeProvider? timeProvider, ILogger? logger, int foldQueueCapacity)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        options ??= new StorageOptions();
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
        RollupPath = SqliteRollupFile.PathFor(DatabasePath);
        _fileLock = new SqliteFileLock(DatabasePath);
        _folds = new SqliteFoldWriter(RollupPath, Open, logger, foldQueueCapacity, timeProvider);
        _writer = new SqliteWriter(OpenForWriter, timeProvider ?? TimeProvider.System, _folds);
        _committer = new GroupCommitter(CommitAsync, options.MaxPendingBatches, options.MaxEventsPerCommit, nameof(StorageProvider.Sqlite));
        Dashboard = new DamageReportingQueries(
            new DashboardQueries(_ => ValueTask.FromResult<System.Data.Common.DbConnection>(OpenWithRollups()), DashboardSqlDialect.Sqlite, FoldRollupsAsync),
            _folds.CheckForDamage);
    }

    /// <inheritdoc />
    public IDashboardQueries Dashboard { get; }

    /// <summary>A store over the file at <paramref name="path"/> (created when missing).</summary>
    /// <param name="path">The database file.</param>
    /// <param name="options">The writer's queue limits.</param>
    /// <param name="timeProvider">The clock that stamps each event's <c>received_at</c> (default: the system clock).</param>
    /// <param name="logger">Where the rollup file's troubles are told (default: not told).</param>
    /// <returns>The store; call <see cref="InitializeAsync"/> before use.</returns>
    public static SqliteEventStore ForFile(string path, StorageOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new SqliteEventStore(new SqliteConnectionStringBuilder { DataSource = path }.ToString(), options, timeProvider, logger);
    }

    /// <inheritdoc />
    public string Provider => nameof(StorageProvider.Sqlite);

    /// <summary>
    /// Why the dashboard cannot be served though uploads are (readiness reports it as degraded), or null: the last fold of
    /// the rollups failed, and the dashboard's pages answer 503 until one succeeds.
    /// </summary>
    internal string? RollupTrouble => _folds.Failing
        ? $"The store answers and takes uploads, but the dashboard's rollups cannot be written to '{RollupPath}' (the log says why): dashboard pages answer 503 until a fold succeeds."
        : null;

    /// <summary>The database file's full path.</summary>
    public string DatabasePath { get; }

    /// <summary>
    /// Every file a store keeps for the database at <paramref name="databasePath"/>: the database, its rollup file, their
    /// write-ahead logs and shared-memory files, and the lock file. To delete a database the collector no longer uses.
    /// </summary>
    /// <param name="databasePath">The database file, as given to <see cref="ForFile"/>.</param>
    /// <returns>The paths, whether or not each file exists now.</returns>
    public static IReadOnlyList<string> FilesOf(string databasePath)
    {
        string rollups = SqliteRollupFile.PathFor(databasePath);
        return [databasePath, databasePath + "-wal", databasePath + "-shm", rollups, rollups + "-wal", rollups + "-shm", SqliteFileLock.PathFor(databasePath)];
    }

    /// <summary>
    /// The full path of the file that holds the dashboard's rollups: <see cref="DatabasePath"/> with <c>-rollups</c>
    /// appended. It can be deleted while the collector is stopped (the next start rebuilds it from the events) and need
    /// not be backed up.
    /// </summary>
    public string RollupPath { get; }

    /// <inheritdoc />
    /// <remarks>
    /// Then has the fold writer bring the rollup file up to date: rebuilt if it is missing or does not match, and the
    /// events a previous process stored and never folded read back. An initialized store is the file's writer, even if only read.
    /// </remarks>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string? directory = Path.GetDirectoryName(DatabasePath);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        // First the lock: a second collector on this file must fail before it migrates, or reads the seq its writer will
        // go on from. A store initialized twice (a host that retries its start) keeps the one it holds.
        _fileLock.Hold();
        using (SqliteConnection connection = Open())
        {
            SqliteSchema.Migrate(connection);
        }

        // The sums a crash kept from being folded are read back by the fold writer, from where the events writer started
        // (its first commit tells it), never here: reading back events above that while the fold writer holds some of
        // them pending would count those twice. The barrier makes the start do it, not the first dashboard read.
        await FoldRollupsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the dashboard's pending sums to the rollup file and completes when they are there: the events writer hands
    /// the read to the fold writer after its next commit, ahead of the uploads still queued (<see cref="FoldWaiters"/>).
    /// The dashboard's rollup reads call it first, so they see every event whose insert has completed.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the fold may still happen).</param>
    /// <returns>A task that completes when the rollup tables cover every event committed before the call.</returns>
    /// <exception cref="ObjectDisposedException">The store is being disposed (the rollups are folded by the dispose).</exception>
    /// <exception cref="TimeoutException">The fold writer is a full queue behind the events writer (its rollup file held or slow): ask again later.</exception>
    internal async Task FoldRollupsAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Task folded = _foldWaiters.Join(out bool wake);
        if (wake)
        {
            // An empty batch through the queue wakes a writer that waits for work; a busy one takes the waiters at its
            // next commit, before this batch's turn. So the read does not wait for it, only for the fold; a wake that
            // waits for room in a full queue is left to complete on its own. The readers who join these waiters after
            // this one rely on this wake-up (or on the dispose, should the store be shutting down).
            Task wakeUp = _committer.SubmitAsync(SqliteRollupFolder.FoldRequest.Instance, CancellationToken.None);
            if (wakeUp.IsFaulted)
            {
                // The store is shutting down (ObjectDisposedException): the waiters this read began are failed with it,
                // or a read joining them later, after the dispose took its last waiters, would wait for good.
                _foldWaiters.Take()?.TrySetException(wakeUp.Exception!.InnerException!);
                await wakeUp.ConfigureAwait(false);
            }

            _ = wakeUp.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        // WaitAsync: a writer stuck on the file's lock would otherwise keep a cancelled read waiting.
        await folded.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

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
        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            // Last, even after a failure to close (this store writes nothing more either way): another process may take the
            // file over.
            _fileLock.Dispose();
        }
    }

    /// <summary>
    /// Lets go of the database's lock as the process's death would, leaving everything else as it is: for the tests that
    /// abandon a store (never disposed, its pending sums never written) to play a crash within one process.
    /// </summary>
    internal void ReleaseFileLockAsIfKilled() => _fileLock.Dispose();

    private async Task CloseAsync()
    {
        try
        {
            await _committer.DisposeAsync().ConfigureAwait(false); // all its writer loops have ended, even when it throws
        }
        finally
        {
            // Closed whatever the committer did: the file's lock goes after this, and no thread of this store may still
            // write the rollup file (or hold the events writer's connection) once another process can take the file.
            try
            {
                // The events writer has ended, so nothing more is handed over: readers whose wake came too late for it get
                // the fold writer's last fold, which writes everything it holds.
                TaskCompletionSource? late = _foldWaiters.Take();
                if (late is not null)
                {
                    _folds.Fold(late, new ObjectDisposedException(nameof(SqliteEventStore), "The store closed before its writer started."));
                }

                await _folds.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                _writer.Dispose();
            }
        }

        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }
    }

    /// <summary>
    /// The events writer's transaction (only the <see cref="GroupCommitter"/> loop calls it, one at a time). The readers
    /// waiting for a fold when it starts are handed to the fold writer after it, committed or not, so their fold covers
    /// every commit before them; an upload never fails because a reader asked for a fold.
    /// </summary>
    private Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
    {
        TaskCompletionSource? readers = _foldWaiters.Take();
        Exception? failure = null;
        try
        {
            return Task.FromResult(_writer.Commit(batches));
        }
        catch (Exception exception)
        {
            failure = exception;
            throw;
        }
        finally
        {
            if (readers is not null)
            {
                _folds.Fold(readers, failure); // the error is theirs only if the writer could not start
            }
        }
    }

    /// <summary>A reader connection with the rollup file attached (as <c>rollups</c>), for the dashboard's queries.</summary>
    private SqliteConnection OpenWithRollups()
    {
        SqliteConnection connection = Open();
        try
        {
            // A pooled connection keeps what it attached.
            if (!HasRollupsAttached(connection))
            {
                using SqliteCommand attach = connection.CreateCommand();
                attach.CommandText = "ATTACH DATABASE $path AS rollups;";
                attach.Parameters.AddWithValue("$path", RollupPath);
                attach.ExecuteNonQuery();
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The events writer's connection: from the pool, so possibly one a dashboard read had (<see cref="OpenWithRollups"/>),
    /// which keeps the rollup file attached. Detached here: BEGIN IMMEDIATE takes the write lock of every attached file,
    /// so each upload's commit would otherwise wait for the fold writer's (or another program's) lock on the rollup file.
    /// </summary>
    private SqliteConnection OpenForWriter()
    {
        // The writer may start before InitializeAsync (a store used without it, or written before it): it takes the lock
        // too, or such a store would write a file another collector holds.
        _fileLock.Hold();
        SqliteConnection connection = Open();
        try
        {
            if (HasRollupsAttached(connection))
            {
                using SqliteCommand detach = connection.CreateCommand();
                detach.CommandText = "DETACH DATABASE rollups;";
                detach.ExecuteNonQuery();
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static bool HasRollupsAttached(SqliteConnection connection)
    {
        using SqliteCommand list = connection.CreateCommand();
        list.CommandText = "SELECT count(*) FROM pragma_database_list WHERE name = 'rollups';";
        return (long)list.ExecuteScalar()! != 0;
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
