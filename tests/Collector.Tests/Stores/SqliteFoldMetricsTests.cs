using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The SQLite fold writer's instruments: each fold's time with its outcome, and the events read back. The meter is the
/// process's, so this runs in the collection that no other test runs beside: no other store folds meanwhile.
/// </summary>
[Collection(EndToEnd.Name)]
public sealed class SqliteFoldMetricsTests : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-fold-metrics-").FullName;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private string DatabasePath => Path.Combine(_folder, "events.db");

    [Fact]
    public async Task Each_fold_is_timed_with_its_outcome_and_the_events_read_back_are_counted()
    {
        using var durations = new MetricCollector<double>(null, StoreMetrics.MeterName, "instrumentation.collector.rollup.fold.duration");
        using var readBack = new MetricCollector<long>(null, StoreMetrics.MeterName, "instrumentation.collector.rollup.read_back.events");
        await SqliteRollupFileTests.StoreAndCloseAsync(DatabasePath, 0, 100);
        SqliteRollupFileTests.DeleteRollupFile(DatabasePath);
        durations.Clear();
        readBack.Clear();

        await using SqliteEventStore store = await SqliteRollupFileTests.OpenAsync(DatabasePath); // reads the 100 back
        Assert.Equal(100, readBack.GetMeasurementSnapshot().Sum(m => m.Value));
        RollupAudit.Execute(DatabasePath + "-rollups", "CREATE TRIGGER fail_fold BEFORE INSERT ON context_values BEGIN SELECT RAISE(ABORT, 'fold refused'); END;");
        Assert.Equal(1, (await store.InsertAsync([SqliteRollupFoldTests.Event(100)], Token)).NewCount);
        await Assert.ThrowsAsync<SqliteException>(() => store.FoldRollupsAsync(Token));

        Assert.Equal(["committed", "failed"], durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["outcome"]!));
        Assert.All(durations.GetMeasurementSnapshot(), m => Assert.True(m.Value >= 0));
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}
