using System.Globalization;
using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The SQLite store's deferred rollup totals (<see cref="SqliteRollupFolder"/>), written by its fold writer into the rollup
/// file, on real files: what the folds write equals what the stored events add up to, a fold happens at the threshold, on
/// a reader's barrier and on dispose, and nothing else moves the mark.
/// </summary>
public sealed class SqliteRollupFoldTests : IAsyncDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-fold-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string DatabasePath => Path.Combine(_folder, "events.db");

    /// <summary>
    /// An event with the notebook design's context: a student among 200, a course among 7, a cell among 50, spread over
    /// minutes, types and priorities.
    /// </summary>
    internal static StoredEvent Event(int n)
    {
        string type = (n % 5) switch { 0 => "cell", 1 => "focus", 2 => "save", 3 => "run", _ => "visit" };
        string priority = n % 11 == 0 ? "immediate" : "batch";
        DateTimeOffset at = T0.AddSeconds((n * 7L) % 36_000).AddTicks(n % 10_000);
        string context = string.Create(CultureInfo.InvariantCulture, $$"""{"net_id":"s{{n % 200}}","course_id":"c{{n % 7}}","cell_id":"x{{n % 50}}","none":null}""");
        return EventStoreContract.Event(type: type, priority: priority, at: at, context: context, data: "{\"n\":" + n.ToString(CultureInfo.InvariantCulture) + "}");
    }

    [Fact]
    public async Task Many_concurrent_commits_with_many_distinct_values_fold_to_exactly_the_rollups_of_the_stored_events()
    {
        await using SqliteEventStore store = await OpenAsync();
        const int Tasks = 8, BatchesPerTask = 70, BatchSize = 50; // 28,000 events: at least one threshold fold, then some pending
        Task[] writers = [.. Enumerable.Range(0, Tasks).Select(task => Task.Run(async () =>
        {
            StoredEvent[]? previous = null;
            for (int b = 0; b < BatchesPerTask; b++)
            {
                int first = ((task * BatchesPerTask) + b) * BatchSize;
                StoredEvent[] batch = [.. Enumerable.Range(first, BatchSize).Select(Event)];
                // Two events of the previous batch again: duplicates must add nothing to any sum.
                StoredEvent[] sent = previous is null ? batch : [.. batch, previous[0], previous[^1]];
                Assert.Equal(BatchSize, (await store.InsertAsync(sent, Token)).NewCount);
                previous = batch;
                if (b % 25 == 10)
                {
                    await store.Dashboard.ContextKeysAsync(Token); // a reader's barrier in the middle of the traffic
                }
            }
        }, Token))];
        await Task.WhenAll(writers);

        Assert.True(RollupAudit.Mark(DatabasePath) > 0, "no fold happened during the traffic");
        await store.FoldRollupsAsync(Token);
        Assert.Equal(RollupAudit.LastSeq(DatabasePath), RollupAudit.Mark(DatabasePath));
        Assert.Equal(Tasks * BatchesPerTask * BatchSize, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM events;"));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task The_writer_folds_when_the_pending_sums_reach_the_threshold_and_not_before()
    {
        await using SqliteEventStore store = await OpenAsync();
        const int BatchSize = 1000;
        int batches = SqliteRollupFolder.FoldThreshold / BatchSize;
        for (int b = 0; b < batches; b++)
        {
            Assert.Equal(0, RollupAudit.Mark(DatabasePath)); // nothing folded yet
            await store.InsertAsync([.. Enumerable.Range(b * BatchSize, BatchSize).Select(Event)], Token);
        }

        // The commit that brought the pending sums to the threshold has the fold writer fold them, on its own thread.
        await MarkReachesAsync(RollupAudit.LastSeq(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);

        await store.InsertAsync([.. Enumerable.Range(batches * BatchSize, BatchSize).Select(Event)], Token);
        Assert.Equal(SqliteRollupFolder.FoldThreshold, RollupAudit.Scalar(DatabasePath, "SELECT sum(count) FROM event_minutes;")); // pending
        Assert.Equal(SqliteRollupFolder.FoldThreshold * 3, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM event_context;")); // pending too (3 fields)
        Assert.Equal(SqliteRollupFolder.FoldThreshold + BatchSize, RollupAudit.Scalar(DatabasePath, "SELECT sum(count) FROM event_counts;")); // per commit
    }

    [Fact]
    public async Task Dispose_folds_what_is_pending_and_a_reopened_store_has_nothing_to_recompute()
    {
        SqliteEventStore store = await OpenAsync();
        for (int b = 0; b < 5; b++)
        {
            await store.InsertAsync([.. Enumerable.Range(b * 100, 100).Select(Event)], Token);
        }

        Assert.Equal(0, RollupAudit.Mark(DatabasePath));
        await store.DisposeAsync();
        Assert.Equal(500, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);

        await using SqliteEventStore reopened = await OpenAsync();
        RollupAudit.AssertExact(DatabasePath);
        await reopened.InsertAsync([Event(500)], Token);
        await reopened.FoldRollupsAsync(Token);
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_store_abandoned_without_dispose_loses_no_sums_the_next_start_recomputes_the_events_after_the_mark()
    {
        // The in-process stand-in for a crash (RollupCrashTests kills a real collector process): the first store's
        // pending sums are never written; it is never disposed, so it cannot write them later either.
        SqliteEventStore abandoned = await OpenAsync();
        await abandoned.InsertAsync([.. Enumerable.Range(0, 300).Select(Event)], Token);
        await abandoned.FoldRollupsAsync(Token);
        await abandoned.InsertAsync([.. Enumerable.Range(300, 700).Select(Event)], Token);
        Assert.Equal(300, RollupAudit.Mark(DatabasePath));
        abandoned.ReleaseFileLockAsIfKilled();

        await using SqliteEventStore next = await OpenAsync();
        Assert.Equal(1000, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Recovery_counts_no_pending_event_twice_when_initialize_comes_after_inserts_or_twice()
    {
        // A previous process's events above the mark, then this store's own pending events before and between two
        // InitializeAsync calls: only the former may be recomputed from the stored events.
        SqliteEventStore abandoned = await OpenAsync();
        await abandoned.InsertAsync([.. Enumerable.Range(0, 200).Select(Event)], Token);
        abandoned.ReleaseFileLockAsIfKilled();

        await using SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath);
        await store.InsertAsync([.. Enumerable.Range(200, 100).Select(Event)], Token); // before InitializeAsync
        await store.InitializeAsync(Token);
        await store.InsertAsync([.. Enumerable.Range(300, 100).Select(Event)], Token);
        await store.InitializeAsync(Token); // idempotent
        await store.InsertAsync([.. Enumerable.Range(400, 100).Select(Event)], Token);
        await store.FoldRollupsAsync(Token);
        Assert.Equal(500, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Recovery_from_the_stored_json_gives_the_rows_the_live_path_gave_the_validated_request_also_with_escapes()
    {
        // The live path sums the context the validator read from the request; recovery reads the stored JSON. Escaped
        // names and values, a null field, and a "context" member spelled with an escape must give the same rows both ways.
        static StoredEvent Validated(int n)
        {
            StoredEvent plain = Event(n);
            string json = plain.Json.Replace(
                "\"context\":{\"net_id\"",
                "\"\\u0063ontext\":{\"sk\\u00e9\\\"\\n\":\"v\\u00e9\\/" + (n % 3).ToString(CultureInfo.InvariantCulture) + "\",\"net\\u005fid\"",
                StringComparison.Ordinal);
            using var document = System.Text.Json.JsonDocument.Parse(json);
            Assert.True(Instrumentation.Collector.Ingest.EventValidator.TryValidate(document.RootElement, 65_536, 16, out StoredEvent? stored, out string? reason), reason);
            Assert.Equal(5, stored!.Context!.Count + 1); // four strings (the escaped one among them) and a null
            return stored with { Json = stored.Json }; // the JSON as a string: the document goes away
        }

        SqliteEventStore abandoned = await OpenAsync();
        await abandoned.InsertAsync([.. Enumerable.Range(0, 150).Select(Validated)], Token);
        await abandoned.FoldRollupsAsync(Token); // the live path's rows
        Assert.Equal(150, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
        Assert.Equal(150, RollupAudit.Scalar(DatabasePath, "SELECT sum(events) FROM context_values WHERE key = 'ské\"\n';"));
        await abandoned.InsertAsync([.. Enumerable.Range(150, 150).Select(Validated)], Token); // pending, then lost
        abandoned.ReleaseFileLockAsIfKilled();

        await using SqliteEventStore next = await OpenAsync(); // recovery's rows
        Assert.Equal(300, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
        Assert.Equal(300, RollupAudit.Scalar(DatabasePath, "SELECT sum(events) FROM context_values WHERE key = 'ské\"\n';"));
        Assert.Equal(3, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM context_values WHERE key = 'ské\"\n' AND value LIKE 'vé/%';"));
    }

    [Fact]
    public async Task A_cancelled_read_stops_waiting_for_a_barrier_the_writer_cannot_answer_and_the_store_goes_on()
    {
        await using SqliteEventStore store = await OpenAsync();
        await store.InsertAsync([Event(0)], Token); // pending: the barrier needs a fold
        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = RollupAudit.RollupPath(DatabasePath), Pooling = false }.ToString()))
        {
            holder.Open();
            using SqliteTransaction locked = holder.BeginTransaction(deferred: false); // the rollup file's write lock, as another process would hold it
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);
            Task read = store.Dashboard.ContextKeysAsync(cancel.Token);
            cancel.CancelAfter(TimeSpan.FromMilliseconds(200)); // the fold writer has most likely taken the barrier by then
            // The fold writer waits for the lock (30 s busy timeout); the read must end with its cancellation, not with it.
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
            locked.Rollback();
        }

        await store.FoldRollupsAsync(Token);
        Assert.Equal(1, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_fold_whose_transaction_fails_fails_the_read_and_the_next_fold_reads_its_events_back_counting_each_once()
    {
        await using SqliteEventStore store = await OpenAsync();
        await store.InsertAsync([.. Enumerable.Range(0, 100).Select(Event)], Token);
        string rollups = RollupAudit.RollupPath(DatabasePath);
        RollupAudit.Execute(rollups, """
            CREATE TABLE fold_fails (x INTEGER);
            INSERT INTO fold_fails VALUES (1);
            CREATE TRIGGER fail_fold BEFORE INSERT ON context_values WHEN EXISTS (SELECT 1 FROM fold_fails) BEGIN SELECT RAISE(ABORT, 'fold refused'); END;
            """);

        SqliteException error = await Assert.ThrowsAsync<SqliteException>(() => store.Dashboard.ContextKeysAsync(Token));
        Assert.Contains("fold refused", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, RollupAudit.Mark(DatabasePath)); // rolled back, context index included
        Assert.Equal(0, RollupAudit.Scalar(DatabasePath, "SELECT count(*) FROM event_context;"));
        Assert.Equal(50, (await store.InsertAsync([.. Enumerable.Range(100, 50).Select(Event)], Token)).NewCount); // uploads go on
        await Assert.ThrowsAsync<SqliteException>(() => store.FoldRollupsAsync(Token)); // the read-back fails too

        RollupAudit.Execute(rollups, "DELETE FROM fold_fails;");
        Assert.Equal(["cell_id", "course_id", "net_id"], await store.Dashboard.ContextKeysAsync(Token));
        Assert.Equal(150, RollupAudit.Mark(DatabasePath));
        RollupAudit.Execute(rollups, "DROP TRIGGER fail_fold; DROP TABLE fold_fails;");
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_dashboard_read_is_folded_for_in_the_writers_next_commit_not_after_every_upload_queued_before_it()
    {
        // Commits of at most 10 events, so the 40 queued uploads of 10 take 40 commits; the first is held at the file's lock
        // until the read has asked.
        await using SqliteEventStore store = await OpenAsync(new StorageOptions { MaxEventsPerCommit = 10 });
        await store.InsertAsync([Event(0)], Token); // pending: the read needs a fold
        Task[] uploads;
        Task<IReadOnlyList<string>> read;
        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            holder.Open();
            using SqliteTransaction locked = holder.BeginTransaction(deferred: false);
            uploads = [.. Enumerable.Range(0, 40).Select(b => store.InsertAsync([.. Enumerable.Range(1 + (b * 10), 10).Select(Event)], Token))];
            read = store.Dashboard.ContextKeysAsync(Token);
            locked.Rollback();
        }

        Assert.Equal(["cell_id", "course_id", "net_id"], await read);
        await Task.WhenAll(uploads);
        // The mark is the last seq the read's fold covered, and nothing else folds here (401 events, far below the
        // threshold): queued behind the 40 uploads the fold would cover all 401 events; done in the commit after the one
        // in progress, it covers the first event and at most two uploads of 10.
        Assert.InRange(RollupAudit.Mark(DatabasePath), 1, 21);
        await store.FoldRollupsAsync(Token);
        Assert.Equal(401, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task An_upload_does_not_fail_because_a_fold_a_reader_asked_for_fails()
    {
        // Commits of one event, so each upload is a group of its own (which the committer does not retry); the first is
        // held at the file's lock until the read has joined, so one of the two uploads' commits takes the reader's fold.
        await using SqliteEventStore store = await OpenAsync(new StorageOptions { MaxEventsPerCommit = 1 });
        RollupAudit.Execute(RollupAudit.RollupPath(DatabasePath), "CREATE TRIGGER fail_fold BEFORE INSERT ON context_values BEGIN SELECT RAISE(ABORT, 'fold refused'); END;");
        (Task<InsertResult>[] uploads, Task read) = QueueBehindTheLock(store, null);

        SqliteException refused = await Assert.ThrowsAsync<SqliteException>(() => read);
        Assert.Contains("fold refused", refused.Message, StringComparison.Ordinal);
        foreach (Task<InsertResult> upload in uploads)
        {
            Assert.Equal(1, (await upload).NewCount);
        }

        RollupAudit.Execute(RollupAudit.RollupPath(DatabasePath), "DROP TRIGGER fail_fold;");

        await store.FoldRollupsAsync(Token);
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            connection.Open();
            using SqliteCommand stored = connection.CreateCommand();
            stored.CommandText = "SELECT count(*), max(seq) FROM events;";
            using SqliteDataReader reader = stored.ExecuteReader();
            Assert.True(reader.Read());
            Assert.Equal(2, reader.GetInt64(0));
            Assert.Equal(reader.GetInt64(1), RollupAudit.Mark(DatabasePath));
        }

        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_read_whose_fold_shares_a_commit_with_a_failing_upload_is_answered_by_a_fold_of_its_own()
    {
        // As above, one event per commit and the first held at the file's lock, so one of the two failing uploads' commits
        // takes the read's fold; the event stored before is pending and must be in the rollups the read sees.
        await using SqliteEventStore store = await OpenAsync(new StorageOptions { MaxEventsPerCommit = 1 });
        await store.InsertAsync([Event(0)], Token);
        (Task<InsertResult>[] uploads, Task read) = QueueBehindTheLock(store, "CREATE TRIGGER fail_upload BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'upload refused'); END;");

        await read;
        foreach (Task<InsertResult> upload in uploads)
        {
            SqliteException refused = await Assert.ThrowsAsync<SqliteException>(() => upload);
            Assert.Contains("upload refused", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(1, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Reads_that_join_the_waiters_of_one_commit_without_a_wake_up_of_their_own_are_all_answered()
    {
        // The writer is held at the file's lock, so the reads all join the same waiters and only the first queues a
        // wake-up; one of them is cancelled, which must not keep the others from their answer.
        await using SqliteEventStore store = await OpenAsync();
        await store.InsertAsync([Event(0)], Token);
        using var cancelled = new CancellationTokenSource();
        Task[] reads;
        Task gone;
        using (var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString()))
        {
            holder.Open();
            using SqliteTransaction locked = holder.BeginTransaction(deferred: false);
            Task upload = store.InsertAsync([Event(1)], Token);
            gone = store.FoldRollupsAsync(cancelled.Token);
            reads = [.. Enumerable.Range(0, 5).Select(_ => store.FoldRollupsAsync(Token))];
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone);
            locked.Rollback();
            await upload;
        }

        await Task.WhenAll(reads);
        Assert.Equal(2, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_read_after_the_store_is_disposed_fails_at_once_instead_of_waiting_for_a_writer_that_is_gone()
    {
        SqliteEventStore store = await OpenAsync();
        await store.InsertAsync([Event(0)], Token);
        await store.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.Dashboard.ContextKeysAsync(Token));
        // Again: the first read's waiters must not be left behind for the next read to join and wait on for good.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.Dashboard.ContextKeysAsync(Token).WaitAsync(TimeSpan.FromSeconds(30), Token));
        Assert.Equal(1, RollupAudit.Mark(DatabasePath)); // the dispose folded
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Creates <paramref name="triggerSql"/> (if any) in the events file and, while another connection holds its write lock, queues two uploads
    /// of one event each and then a fold wait, and releases the lock: the writer's first commit starts before the read has
    /// joined (it waits at the lock), so one of the uploads' commits takes the reader's fold.
    /// </summary>
    private (Task<InsertResult>[] Uploads, Task Read) QueueBehindTheLock(SqliteEventStore store, string? triggerSql)
    {
        using var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        holder.Open();
        if (triggerSql is not null)
        {
            using SqliteCommand trigger = holder.CreateCommand();
            trigger.CommandText = triggerSql;
            trigger.ExecuteNonQuery();
        }

        using SqliteTransaction locked = holder.BeginTransaction(deferred: false);
        Task<InsertResult>[] uploads = [store.InsertAsync([Event(1)], Token), store.InsertAsync([Event(2)], Token)];
        Task read = store.FoldRollupsAsync(Token);
        locked.Rollback();
        return (uploads, read);
    }

    /// <summary>
    /// Waits until the fold writer, which folds on its own thread after the commit that handed it the threshold's sums
    /// has answered, has moved the mark to <paramref name="seq"/>; fails if it has not within 30 s.
    /// </summary>
    private async Task MarkReachesAsync(long seq)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Token);
        patience.CancelAfter(TimeSpan.FromSeconds(30));
        while (RollupAudit.Mark(DatabasePath) < seq)
        {
            await Task.Delay(10, patience.Token);
        }

        Assert.Equal(seq, RollupAudit.Mark(DatabasePath));
    }

    private async Task<SqliteEventStore> OpenAsync(StorageOptions? options = null)
    {
        SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath, options);
        await store.InitializeAsync(Token);
        return store;
    }
}
