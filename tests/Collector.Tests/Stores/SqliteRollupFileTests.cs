using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The SQLite store's rollup file (<see cref="SqliteEventStore.RollupPath"/>) on real files: a cache of what the events
/// file holds, rebuilt whenever it cannot be trusted, written by a writer of its own that the uploads never wait for.
/// </summary>
public sealed class SqliteRollupFileTests : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-rollup-file-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string DatabasePath => Path.Combine(_folder, "events.db");

    [Fact]
    public async Task The_rollup_file_sits_beside_the_events_file_and_holds_every_rollup_table_the_events_file_has_none_of()
    {
        await using (SqliteEventStore store = await OpenAsync(DatabasePath))
        {
            Assert.Equal(DatabasePath + "-rollups", store.RollupPath);
            await store.InsertAsync([.. Enumerable.Range(0, 300).Select(SqliteRollupFoldTests.Event)], Token);
            await store.FoldRollupsAsync(Token);
        }

        Assert.Equal(0, Scalar(DatabasePath, "SELECT count(*) FROM sqlite_master WHERE name IN ('event_minutes', 'event_context', 'context_values', 'rollup_mark');"));
        Assert.Equal(1, Scalar(DatabasePath, "SELECT count(*) FROM store_identity WHERE length(store_id) = 32;"));
        Assert.Equal(300, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_deleted_rollup_file_is_rebuilt_from_the_stored_events_at_the_next_start()
    {
        await StoreAndCloseAsync(DatabasePath, 0, 500);
        SqliteConnection.ClearAllPools();
        DeleteRollupFile(DatabasePath);

        await using SqliteEventStore store = await OpenAsync(DatabasePath);
        Assert.Equal(500, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
        Assert.Equal(["cell_id", "course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
    }

    [Fact]
    public async Task The_rollup_file_of_another_events_file_is_emptied_and_rebuilt_not_added_to()
    {
        // Two stores with as many events (so the copied file's mark is no higher than this file's last seq): only the
        // store identity tells them apart.
        string other = Path.Combine(_folder, "other.db");
        await StoreAndCloseAsync(DatabasePath, 0, 200);
        await StoreAndCloseAsync(other, 1000, 200);
        SqliteConnection.ClearAllPools();
        DeleteRollupFile(DatabasePath);
        File.Copy(other + "-rollups", DatabasePath + "-rollups");

        await using SqliteEventStore store = await OpenAsync(DatabasePath);
        Assert.Equal(200, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_rollup_file_that_is_not_a_database_is_replaced_and_rebuilt()
    {
        await StoreAndCloseAsync(DatabasePath, 0, 100);
        SqliteConnection.ClearAllPools();
        DeleteRollupFile(DatabasePath);
        await File.WriteAllBytesAsync(DatabasePath + "-rollups", [.. Enumerable.Repeat((byte)0x5A, 64 * 1024)], Token);

        await using SqliteEventStore store = await OpenAsync(DatabasePath);
        Assert.Equal(100, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_rollup_file_damaged_past_its_mark_is_rebuilt_when_a_fold_finds_it_and_the_read_is_answered()
    {
        // The file opens and its mark reads (its first pages are whole), but the pages of its tables' rows are garbage:
        // found only when a fold writes there. Without a rebuild every fold would fail, at this start and the next ones.
        await StoreAndCloseAsync(DatabasePath, 0, 3_000);
        SqliteConnection.ClearAllPools();
        Assert.False(File.Exists(DatabasePath + "-rollups-wal"));
        using (FileStream file = File.Open(DatabasePath + "-rollups", FileMode.Open, FileAccess.ReadWrite))
        {
            long damagedFrom = 9L * SqliteSchema.PageSize; // past sqlite_master and the tables' root pages
            Assert.True(file.Length > damagedFrom + SqliteSchema.PageSize, $"The rollup file has {file.Length} bytes.");
            file.Position = damagedFrom;
            file.Write([.. Enumerable.Repeat((byte)0x5A, (int)(file.Length - damagedFrom))]);
        }

        await using SqliteEventStore store = await OpenAsync(DatabasePath);
        Assert.Equal(100, (await store.InsertAsync([.. Enumerable.Range(3_000, 100).Select(SqliteRollupFoldTests.Event)], Token)).NewCount);
        await store.FoldRollupsAsync(Token);
        Assert.Equal(3_100, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
        Assert.Equal(["cell_id", "course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
    }

    [Fact]
    public async Task A_rollup_file_damaged_where_only_reads_go_is_rebuilt_after_the_read_that_meets_it()
    {
        // The same damage, but nothing new to fold: the start's fold writes nothing there, so only a dashboard read meets
        // it. That read fails (503 over HTTP); it has the fold writer check the file, and the next read gets the rebuild.
        await StoreAndCloseAsync(DatabasePath, 0, 3_000);
        SqliteConnection.ClearAllPools();
        using (FileStream file = File.Open(DatabasePath + "-rollups", FileMode.Open, FileAccess.ReadWrite))
        {
            long damagedFrom = 9L * SqliteSchema.PageSize;
            file.Position = damagedFrom;
            file.Write([.. Enumerable.Repeat((byte)0x5A, (int)(file.Length - damagedFrom))]);
        }

        await using SqliteEventStore store = await OpenAsync(DatabasePath);
        SqliteException met = await Assert.ThrowsAsync<SqliteException>(() => store.Dashboard.ActivityAsync("net_id", null, null, ActivitySort.Events, descending: true, 1_000, Token));
        Assert.True(SqliteRollupFile.IsDamaged(met), met.Message);

        IReadOnlyList<ContextActivity> activity = await store.Dashboard.ActivityAsync("net_id", null, null, ActivitySort.Events, descending: true, 1_000, Token);
        Assert.Equal(3_000, activity.Sum(a => a.Events));
        Assert.Equal(["cell_id", "course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
        Assert.Equal(3_000, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_store_identity_deleted_by_hand_is_made_again_and_the_rollup_file_is_rebuilt_for_it()
    {
        await StoreAndCloseAsync(DatabasePath, 0, 100);
        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            connection.Open();
            using SqliteCommand delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM store_identity;";
            delete.ExecuteNonQuery();
        }

        await using SqliteEventStore store = await OpenAsync(DatabasePath);
        Assert.Equal(1, Scalar(DatabasePath, "SELECT count(*) FROM store_identity WHERE length(store_id) = 32;"));
        Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(100)], Token)).NewCount);
        Assert.Equal(["cell_id", "course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
        Assert.Equal(101, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_rollup_file_that_cannot_be_opened_fails_the_start_with_an_error_that_names_it()
    {
        Directory.CreateDirectory(DatabasePath + "-rollups"); // a directory where the file would go: SQLite cannot open it

        SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath);
        try
        {
            SqliteException error = await Assert.ThrowsAsync<SqliteException>(() => store.InitializeAsync(Token));
            Assert.Contains($"The rollup file '{DatabasePath}-rollups'", error.Message, StringComparison.Ordinal);
            Assert.Contains("must be writable", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(5, "Another program holds it locked")] // SQLITE_BUSY: another program's write transaction
    [InlineData(13, "Its disk is full")] // SQLITE_FULL
    [InlineData(8, "Its directory and the file must be writable")] // SQLITE_READONLY
    public void The_error_of_a_rollup_file_that_cannot_be_opened_says_what_to_do_for_its_cause_and_keeps_sqlites_codes(int code, string remedy)
    {
        var cause = new SqliteException($"SQLite Error {code}: 'what SQLite says'.", code, code + 256);

        SqliteException error = SqliteRollupFile.OpenFailure("/data/collector.db-rollups", cause);

        Assert.StartsWith("The rollup file '/data/collector.db-rollups'", error.Message, StringComparison.Ordinal);
        Assert.Contains(cause.Message, error.Message, StringComparison.Ordinal);
        Assert.Contains(remedy, error.Message, StringComparison.Ordinal);
        Assert.Equal((code, code + 256), (error.SqliteErrorCode, error.SqliteExtendedErrorCode)); // a store failure still: 503
    }

    [Fact]
    public async Task A_schema_6_file_is_upgraded_to_7_and_its_rollups_are_recomputed_in_the_rollup_file()
    {
        // A version 6 file as its collector left it: 40 events, their counts, and rollups in the file itself (here wrong on
        // purpose: a row for a value no event has), folded through the last seq.
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            connection.Open();
            SqliteSchema.Migrate(connection, 6);
            foreach (StoredEvent e in Enumerable.Range(0, 40).Select(SqliteRollupFoldTests.Event))
            {
                using SqliteCommand insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json) VALUES ($id, $type, $priority, '', $ticks, '', $json);";
                insert.Parameters.AddWithValue("$id", e.Id.ToByteArray(bigEndian: true));
                insert.Parameters.AddWithValue("$type", e.Type);
                insert.Parameters.AddWithValue("$priority", e.Priority);
                insert.Parameters.AddWithValue("$ticks", e.Timestamp.UtcTicks);
                insert.Parameters.AddWithValue("$json", e.Json);
                insert.ExecuteNonQuery();
            }

            using SqliteCommand rest = connection.CreateCommand();
            rest.CommandText = """
                INSERT INTO event_counts SELECT type, priority, COUNT(*), MIN(timestamp_ticks), MAX(timestamp_ticks) FROM events GROUP BY 1, 2;
                INSERT INTO context_values VALUES ('net_id', 'nobody', 7, 0, 0, 1);
                UPDATE rollup_mark SET through_seq = 40;
                """;
            rest.ExecuteNonQuery();
        }

        await using (SqliteEventStore store = await OpenAsync(DatabasePath))
        {
            Assert.Equal(40, (await store.GetStatisticsAsync(Token)).Total);
            Assert.Equal(40, (await store.InsertAsync([.. Enumerable.Range(40, 40).Select(SqliteRollupFoldTests.Event)], Token)).NewCount);
        }

        SqliteConnection.ClearAllPools();
        Assert.Equal(SqliteSchema.CurrentVersion, Scalar(DatabasePath, "SELECT version FROM schema_version;"));
        Assert.Equal(0, Scalar(DatabasePath, "SELECT count(*) FROM sqlite_master WHERE name IN ('rollup_mark', 'context_values');"));
        Assert.Equal(80, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath); // the stale row is gone with the tables it was in
    }

    [Fact]
    public async Task The_events_writer_never_writes_on_a_pooled_connection_that_has_the_rollup_file_attached()
    {
        // A dashboard read before the writer starts leaves the rollup file attached to the pooled connection the writer
        // then gets. BEGIN IMMEDIATE takes the write lock of every attached file: the uploads would wait for the rollup
        // file's lock (30 s, then fail) while the fold writer, or another program, holds it.
        await StoreAndCloseAsync(DatabasePath, 0, 10);
        SqliteConnection.ClearAllPools();
        await using SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath);
        Assert.Null(await store.Dashboard.FindEventAsync(Guid.NewGuid(), Token)); // attaches, then back to the pool
        await store.InitializeAsync(Token); // the writer starts on that pooled connection
        using var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath + "-rollups", Pooling = false, DefaultTimeout = 1 }.ToString());
        holder.Open();
        using (SqliteTransaction locked = holder.BeginTransaction(deferred: false))
        {
            Assert.Equal(100, (await store.InsertAsync([.. Enumerable.Range(10, 100).Select(SqliteRollupFoldTests.Event)], Token)).NewCount);
            locked.Rollback();
        }

        await store.FoldRollupsAsync(Token);
        Assert.Equal(110, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Disposing_stops_a_read_back_between_its_transactions_and_the_next_start_reads_back_the_rest()
    {
        // A rebuild at a first start of schema 7 reads back every stored event: a shutdown meanwhile (Ctrl+C during a
        // long start) must not wait for all of them. The events file is opened for the read-back only once the dispose
        // has begun, so the read-back has committed nothing when it is told to stop.
        await StoreAndCloseAsync(DatabasePath, 0, 100);
        SqliteConnection.ClearAllPools();
        DeleteRollupFile(DatabasePath);
        string storeId;
        using (SqliteConnection connection = OpenUnpooled(DatabasePath))
        using (SqliteCommand identity = connection.CreateCommand())
        {
            identity.CommandText = "SELECT store_id FROM store_identity;";
            storeId = (string)identity.ExecuteScalar()!;
        }

        var readBackBegins = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var disposing = new ManualResetEventSlim();
        var folds = new SqliteFoldWriter(DatabasePath + "-rollups", () =>
        {
            readBackBegins.TrySetResult();
            disposing.Wait(Token);
            return OpenUnpooled(DatabasePath);
        });
        folds.Start(storeId, 100);
        var reader = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        folds.Fold(reader);
        await readBackBegins.Task.WaitAsync(Token);
        ValueTask disposed = folds.DisposeAsync();
        disposing.Set();
        await disposed;

        await Assert.ThrowsAsync<ObjectDisposedException>(() => reader.Task);
        Assert.Equal(0, RollupAudit.Mark(DatabasePath));
        await using (SqliteEventStore store = await OpenAsync(DatabasePath))
        {
            Assert.Equal(100, RollupAudit.Mark(DatabasePath));
        }

        RollupAudit.AssertExact(DatabasePath);
    }

    internal static SqliteConnection OpenUnpooled(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    internal static async Task StoreAndCloseAsync(string path, int first, int count)
    {
        await using SqliteEventStore store = await OpenAsync(path);
        if (count > 0)
        {
            Assert.Equal(count, (await store.InsertAsync([.. Enumerable.Range(first, count).Select(SqliteRollupFoldTests.Event)], Token)).NewCount);
        }
    }

    internal static async Task<SqliteEventStore> OpenAsync(string path)
    {
        SqliteEventStore store = SqliteEventStore.ForFile(path);
        await store.InitializeAsync(Token);
        return store;
    }

    internal static void DeleteRollupFile(string path)
    {
        foreach (string suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + "-rollups" + suffix);
        }
    }

    private static long Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
