using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The SQLite store's fold writer behind: uploads commit while it waits for the rollup file's lock, and when its queue
/// is full the events writer drops the sums it cannot queue, which the fold writer reads back; every event is counted
/// once whatever the order of overflows and failed folds.
/// </summary>
public sealed class SqliteFoldQueueTests : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-fold-queue-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string DatabasePath => Path.Combine(_folder, "events.db");

    [Fact]
    public async Task Uploads_commit_while_the_fold_writer_waits_for_the_rollup_files_lock_and_the_fold_catches_up_after()
    {
        await using SqliteEventStore store = await SqliteRollupFileTests.OpenAsync(DatabasePath);
        int events = SqliteRollupFolder.FoldThreshold + 5_000;
        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath + "-rollups", Pooling = false }.ToString()))
        {
            holder.Open();
            using SqliteTransaction locked = holder.BeginTransaction(deferred: false); // the rollup file's write lock, as another program would hold it
            for (int first = 0; first < events; first += 1_000)
            {
                // Past the threshold, the fold writer is stuck at the lock: the uploads are answered all the same.
                Assert.Equal(1_000, (await store.InsertAsync([.. Enumerable.Range(first, 1_000).Select(SqliteRollupFoldTests.Event)], Token)).NewCount);
            }

            Assert.Equal(0, RollupAudit.Mark(DatabasePath));
            locked.Rollback();
        }

        await store.FoldRollupsAsync(Token);
        Assert.Equal(events, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Uploads_never_wait_for_a_fold_writer_a_full_queue_behind_and_the_sums_it_could_not_queue_are_read_back()
    {
        // A fold queue of 4 items, and a fold held at the rollup file's lock by a dashboard read: the uploads' 40 commits
        // overflow the queue. Were the events writer to wait for room, the uploads would end only once that fold gave up
        // (the 30 s busy timeout), after the read had failed.
        await using var store = new SqliteEventStore(new SqliteConnectionStringBuilder { DataSource = DatabasePath }.ToString(), null, null, null, foldQueueCapacity: 4);
        await store.InitializeAsync(Token);
        Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(0)], Token)).NewCount); // pending: the read needs a fold
        Task read, uploads;
        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath + "-rollups", Pooling = false }.ToString()))
        {
            holder.Open();
            using SqliteTransaction locked = holder.BeginTransaction(deferred: false);
            read = store.FoldRollupsAsync(Token);
            uploads = Task.Run(
                async () =>
                {
                    for (int n = 1; n <= 40; n++)
                    {
                        Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(n)], Token)).NewCount); // a commit each
                    }
                },
                Token);
            Assert.Same(uploads, await Task.WhenAny(uploads, read));
            await uploads;
            Assert.False(read.IsCompleted, "the read's fold did not wait at the lock");
            locked.Rollback();
        }

        await read;
        await store.FoldRollupsAsync(Token); // reads back what the full queue dropped
        Assert.Equal(41, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_full_queue_and_failed_folds_in_either_order_count_every_event_once()
    {
        // Every fold refused (a trigger on the mark) while the queue of 2 overflows behind a fold held at the lock: the
        // held fold fails after the overflow (failed fold, then the overflow taken), the next reads fail with the
        // overflow taken first, and a second overflow comes after failed folds. Once the folds succeed again, every
        // stored event is counted exactly once.
        await using var store = new SqliteEventStore(new SqliteConnectionStringBuilder { DataSource = DatabasePath }.ToString(), null, null, null, foldQueueCapacity: 2);
        await store.InitializeAsync(Token);
        string rollups = RollupAudit.RollupPath(DatabasePath);
        RollupAudit.Execute(rollups, "CREATE TABLE fold_fails (x INTEGER); CREATE TRIGGER fail_fold BEFORE UPDATE ON rollup_mark WHEN EXISTS (SELECT 1 FROM fold_fails) BEGIN SELECT RAISE(ABORT, 'fold refused'); END;");
        int next = 0;
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(next++)], Token)).NewCount);
            Task read;
            using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = rollups, Pooling = false }.ToString()))
            {
                holder.Open();
                using SqliteTransaction locked = holder.BeginTransaction(deferred: false);
                read = store.FoldRollupsAsync(Token);
                for (int n = 0; n < 20; n++)
                {
                    Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(next++)], Token)).NewCount); // a commit each
                }

                Assert.False(read.IsCompleted, "the read's fold did not wait at the lock");
                using SqliteCommand refuse = holder.CreateCommand();
                refuse.Transaction = locked;
                refuse.CommandText = round == 0 ? "INSERT INTO fold_fails VALUES (1);" : "SELECT 1;";
                refuse.ExecuteNonQuery();
                locked.Commit();
            }

            SqliteException refused = await Assert.ThrowsAsync<SqliteException>(() => read);
            Assert.Contains("fold refused", refused.Message, StringComparison.Ordinal);
            if (round == 0)
            {
                // Commits after the overflow (their sums kept); none in the last round, whose failed folds alone must
                // keep the overflow's events to read back.
                Assert.Equal(10, (await store.InsertAsync([.. Enumerable.Range(next, 10).Select(SqliteRollupFoldTests.Event)], Token)).NewCount);
                next += 10;
            }

            await Assert.ThrowsAsync<SqliteException>(() => FoldAsync(store)); // the overflow taken, the read-back refused
        }

        RollupAudit.Execute(rollups, "DELETE FROM fold_fails;");
        await FoldAsync(store);
        Assert.Equal(next, RollupAudit.Mark(DatabasePath));
        RollupAudit.Execute(rollups, "DROP TRIGGER fail_fold; DROP TABLE fold_fails;");
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task An_overflow_before_the_first_fold_opens_the_rollup_file_is_read_back_with_the_start()
    {
        // 100 events stored and the rollup file gone: the start reads them back. Its first fold is held at the lock of the
        // (empty) file it must make, while 20 uploads overflow a queue of 2 behind it.
        await SqliteRollupFileTests.StoreAndCloseAsync(DatabasePath, 0, 100);
        SqliteRollupFileTests.DeleteRollupFile(DatabasePath);
        await using var store = new SqliteEventStore(new SqliteConnectionStringBuilder { DataSource = DatabasePath }.ToString(), null, null, null, foldQueueCapacity: 2);
        Task started;
        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = RollupAudit.RollupPath(DatabasePath), Pooling = false }.ToString()))
        {
            holder.Open();
            using (SqliteCommand wal = holder.CreateCommand())
            {
                // In WAL mode already, as the store makes it: the store's switch to WAL would otherwise need the lock
                // this test holds, and SQLite may refuse that at once (SQLITE_BUSY) rather than wait for it.
                wal.CommandText = "PRAGMA journal_mode=WAL;";
                wal.ExecuteNonQuery();
            }

            using SqliteTransaction locked = holder.BeginTransaction(deferred: false);
            started = store.InitializeAsync(Token);
            for (int n = 100; n < 120; n++)
            {
                Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(n)], Token)).NewCount); // a commit each
            }

            // The start's read waits for its fold, held at the lock; or, when the queue of 2 is already full as the start
            // hands its read over (the uploads' commits can come first), it fails at once, and the next fold does the
            // start's read-back. Either way nothing has been folded while the lock is held.
            Assert.True(
                !started.IsCompleted || started.Exception?.InnerException is TimeoutException,
                $"the start's fold did not wait at the lock: {started.Status} {started.Exception?.InnerException}");
            locked.Rollback();
        }

        try
        {
            await started;
        }
        catch (TimeoutException)
        {
            // Handed over to a full queue: see above.
        }

        await FoldAsync(store);
        Assert.Equal(120, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A fold for a read, asked again while the fold writer is still a full queue behind (the read fails at once with a
    /// <see cref="TimeoutException"/> then; a small queue may be full for a moment while the loop skips what it holds).
    /// </summary>
    private static async Task FoldAsync(SqliteEventStore store)
    {
        while (true)
        {
            try
            {
                await store.FoldRollupsAsync(Token);
                return;
            }
            catch (TimeoutException)
            {
                await Task.Delay(10, Token);
            }
        }
    }
}
