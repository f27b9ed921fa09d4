using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// What the SQLite store's fold writer logs about its rollup file (<see cref="SqliteEventStore.RollupPath"/>), on real
/// files: what would otherwise go unseen, once, not once per fold.
/// </summary>
public sealed class SqliteRollupFileLoggingTests : IAsyncDisposable
{
    private const string FailFold = "CREATE TRIGGER fail_fold BEFORE INSERT ON context_values BEGIN SELECT RAISE(ABORT, 'fold refused'); END;";

    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-rollup-logging-").FullName;
    private readonly FakeLogger _logger = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string DatabasePath => Path.Combine(_folder, "events.db");

    [Fact]
    public async Task A_fold_that_fails_is_logged_as_an_error_naming_the_rollup_file_and_a_read_back_is_logged_with_its_count()
    {
        await using (SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath, logger: _logger))
        {
            await store.InitializeAsync(Token);
            await store.InsertAsync([.. Enumerable.Range(0, 50).Select(SqliteRollupFoldTests.Event)], Token);
            RollupAudit.Execute(DatabasePath + "-rollups", FailFold);
            await Assert.ThrowsAsync<SqliteException>(() => store.FoldRollupsAsync(Token));

            FakeLogRecord failed = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error);
            Assert.Contains(DatabasePath + "-rollups", failed.Message, StringComparison.Ordinal);
            Assert.Contains("fold refused", failed.Exception?.Message, StringComparison.Ordinal);

            RollupAudit.Execute(DatabasePath + "-rollups", "DROP TRIGGER fail_fold;");
            await store.FoldRollupsAsync(Token); // reads the 50 events back
        }

        FakeLogRecord readBack = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Information && r.Message.StartsWith("Read ", StringComparison.Ordinal));
        Assert.StartsWith("Read 50 stored events back", readBack.Message, StringComparison.Ordinal);
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Folds_that_keep_failing_log_one_error_then_debug_lines_and_the_fold_that_succeeds_again_says_so()
    {
        await using (SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath, logger: _logger))
        {
            await store.InitializeAsync(Token);
            RollupAudit.Execute(DatabasePath + "-rollups", FailFold);
            for (int read = 0; read < 3; read++)
            {
                // A dashboard page read at each turn, as a page refreshed every few seconds would.
                await store.InsertAsync([.. Enumerable.Range(read * 10, 10).Select(SqliteRollupFoldTests.Event)], Token);
                await Assert.ThrowsAsync<SqliteException>(() => store.FoldRollupsAsync(Token));
            }

            Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error);
            FakeLogRecord[] again = [.. _logger.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Debug)];
            Assert.Equal(2, again.Length);
            Assert.All(again, r => Assert.Contains("fold refused", r.Exception?.Message, StringComparison.Ordinal));
            Assert.Contains("(folds failed in a row: 3)", again[^1].Message, StringComparison.Ordinal);

            RollupAudit.Execute(DatabasePath + "-rollups", "DROP TRIGGER fail_fold;");
            await store.FoldRollupsAsync(Token);
            FakeLogRecord mended = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Information && r.Message.Contains(" again (", StringComparison.Ordinal));
            Assert.Contains("in a row: 3)", mended.Message, StringComparison.Ordinal);

            // A later failure is a new run: an error again.
            RollupAudit.Execute(DatabasePath + "-rollups", FailFold);
            await store.InsertAsync([SqliteRollupFoldTests.Event(30)], Token);
            await Assert.ThrowsAsync<SqliteException>(() => store.FoldRollupsAsync(Token));
            Assert.Equal(2, _logger.Collector.GetSnapshot().Count(r => r.Level == LogLevel.Error));
            RollupAudit.Execute(DatabasePath + "-rollups", "DROP TRIGGER fail_fold;");
            await store.FoldRollupsAsync(Token); // the read-back (a dispose would stop it and leave it to the next start)
        }

        Assert.Equal(31, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task A_rollup_file_found_damaged_when_opened_is_logged_as_a_warning_naming_it()
    {
        await File.WriteAllBytesAsync(DatabasePath + "-rollups", [.. Enumerable.Repeat((byte)0x5A, 64 * 1024)], Token);

        await using (SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath, logger: _logger))
        {
            await store.InitializeAsync(Token);
        }

        FakeLogRecord discarded = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Warning, discarded.Level);
        Assert.Contains(DatabasePath + "-rollups", discarded.Message, StringComparison.Ordinal);
        Assert.IsType<SqliteException>(discarded.Exception);
        Assert.Equal(0, RollupAudit.Mark(DatabasePath));
    }

    [Fact]
    public async Task Sums_that_do_not_add_up_are_logged_as_an_error_and_their_events_read_back()
    {
        await using (SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath))
        {
            await store.InitializeAsync(Token);
            await store.InsertAsync([.. Enumerable.Range(0, 20).Select(SqliteRollupFoldTests.Event)], Token);
        }

        SqliteConnection.ClearAllPools();
        foreach (string suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(DatabasePath + "-rollups" + suffix); // rebuilt by the fold writer below, from the events file
        }

        string storeId;
        using (SqliteConnection connection = SqliteRollupFileTests.OpenUnpooled(DatabasePath))
        using (SqliteCommand identity = connection.CreateCommand())
        {
            identity.CommandText = "SELECT store_id FROM store_identity;";
            storeId = (string)identity.ExecuteScalar()!;
        }

        await using (var folds = new SqliteFoldWriter(DatabasePath + "-rollups", () => SqliteRollupFileTests.OpenUnpooled(DatabasePath), _logger))
        {
            folds.Start(storeId, 18); // as if the last two events were committed after it started
            folds.Committed(new Storage.Rollups.DashboardRollup(), [19, 20]); // two seqs, the sums of none: a bug's sums
            var reader = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            folds.Fold(reader);
            await reader.Task.WaitAsync(Token);
        }

        FakeLogRecord bug = Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error);
        Assert.IsType<InvalidOperationException>(bug.Exception);
        Assert.Contains(DatabasePath + "-rollups", bug.Message, StringComparison.Ordinal);
        Assert.Equal(20, RollupAudit.Mark(DatabasePath));
        RollupAudit.AssertExact(DatabasePath);
    }

    [Fact]
    public async Task Reads_that_keep_meeting_damage_the_rollup_file_does_not_have_check_it_once_per_interval_and_say_where_to_look()
    {
        // A damaged events file fails every read of its damaged pages, whatever the rollup file is: each such read must
        // not have the fold writer read the whole rollup file again. Reads of the events file alone do not ask at all.
        await using (SqliteEventStore store = SqliteEventStore.ForFile(DatabasePath))
        {
            await store.InitializeAsync(Token);
            await store.InsertAsync([.. Enumerable.Range(0, 20).Select(SqliteRollupFoldTests.Event)], Token);
        }

        string storeId;
        using (SqliteConnection connection = SqliteRollupFileTests.OpenUnpooled(DatabasePath))
        using (SqliteCommand identity = connection.CreateCommand())
        {
            identity.CommandText = "SELECT store_id FROM store_identity;";
            storeId = (string)identity.ExecuteScalar()!;
        }

        var time = new FakeTimeProvider();
        await using var folds = new SqliteFoldWriter(DatabasePath + "-rollups", () => SqliteRollupFileTests.OpenUnpooled(DatabasePath), _logger, timeProvider: time);
        folds.Start(storeId, 20);
        var reads = new DamageReportingQueries(new DamagedReads(), folds.CheckForDamage);
        async Task<int> ReadThenFoldAsync(int rollupReads)
        {
            for (int read = 0; read < rollupReads; read++)
            {
                await Assert.ThrowsAsync<SqliteException>(() => reads.ActivityAsync("net_id", null, null, ActivitySort.Events, descending: true, 10, Token));
                await Assert.ThrowsAsync<SqliteException>(() => reads.NewestAsync(null, 10, Token)); // the events file alone: never asks
            }

            var reader = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            folds.Fold(reader); // queued after the reads' requests: answered once they are taken
            await reader.Task.WaitAsync(Token);
            return _logger.Collector.GetSnapshot().Count(r => r.Level == LogLevel.Warning && r.Message.Contains("passes PRAGMA quick_check", StringComparison.Ordinal));
        }

        Assert.Equal(1, await ReadThenFoldAsync(20)); // twenty requests, one check
        Assert.Equal(1, await ReadThenFoldAsync(20)); // within the interval: none
        time.Advance(RollupDamageCheck.MinimumInterval);
        Assert.Equal(2, await ReadThenFoldAsync(1));
        Assert.Equal(2, await ReadThenFoldAsync(0)); // no read, no check
        Assert.All(
            _logger.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning),
            r => Assert.Contains($"the rollup file {DatabasePath}-rollups passes PRAGMA quick_check: the database file itself may be damaged", r.Message, StringComparison.Ordinal));
        Assert.Equal(20, RollupAudit.Mark(DatabasePath)); // intact, so not rebuilt: the start's read-back stands
    }

    /// <summary>Dashboard reads of a damaged file: each fails as SQLite fails a read of a damaged page (a faulted task).</summary>
    private sealed class DamagedReads : IDashboardQueries
    {
        public Task<TimeSeries> CountByTypeOverTimeAsync(DateTimeOffset from, DateTimeOffset until, TimeSpan bucketSize, CancellationToken cancellationToken) => Task.FromException<TimeSeries>(Damage());

        public Task<DashboardEventPage> FindEventsAsync(EventFilter filter, int limit, EventCursor? after, CancellationToken cancellationToken) => Task.FromException<DashboardEventPage>(Damage());

        public Task<IReadOnlyList<DashboardEvent>> NewestAsync(long? afterSequence, int limit, CancellationToken cancellationToken) => Task.FromException<IReadOnlyList<DashboardEvent>>(Damage());

        public Task<DashboardEvent?> FindEventAsync(Guid id, CancellationToken cancellationToken) => Task.FromException<DashboardEvent?>(Damage());

        public Task<IReadOnlyList<string>> TypesAsync(CancellationToken cancellationToken) => Task.FromException<IReadOnlyList<string>>(Damage());

        public Task<IReadOnlyList<string>> ContextKeysAsync(CancellationToken cancellationToken) => Task.FromException<IReadOnlyList<string>>(Damage());

        public Task<IReadOnlyList<ContextActivity>> ActivityAsync(string key, DateTimeOffset? from, DateTimeOffset? until, ActivitySort sort, bool descending, int limit, CancellationToken cancellationToken) => Task.FromException<IReadOnlyList<ContextActivity>>(Damage());

        private static SqliteException Damage() => new("database disk image is malformed", 11);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}
