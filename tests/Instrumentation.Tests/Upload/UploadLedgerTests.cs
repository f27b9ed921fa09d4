using Instrumentation.Upload;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>The ledger on its own: ordinals, resolution in any order, flush waiters, and the counters it alone changes.</summary>
public class UploadLedgerTests
{
    [Fact]
    public async Task A_flush_completes_only_when_every_event_up_to_its_mark_is_resolved_in_any_order()
    {
        using var statistics = new UploadStatistics(null, () => 0);
        var ledger = new UploadLedger(statistics, replayed: 2);
        long first = ledger.Take();
        long second = ledger.Take();
        Assert.Equal((3, 4), (first, second)); // replayed events hold 1 and 2

        Task flushed = ledger.WaitForAsync(4, TestContext.Current.CancellationToken);
        ledger.CollectFlushRequests();
        ledger.Resolve(4, Resolution.Delivered);
        ledger.Resolve(1, Resolution.Dropped, "spool_full");
        ledger.Resolve(3, Resolution.DeadLettered, DeadLetterReasons.Rejected);
        ledger.CompleteFlushWaiters();
        Assert.False(flushed.IsCompleted); // ordinal 2 is still pending

        ledger.Resolve(2, Resolution.Delivered);
        ledger.CompleteFlushWaiters();
        await flushed;
        Assert.Equal(4, ledger.ResolvedCount);
    }

    [Fact]
    public async Task A_flush_waits_for_events_not_yet_taken()
    {
        using var statistics = new UploadStatistics(null, () => 0);
        var ledger = new UploadLedger(statistics, replayed: 0);
        Task flushed = ledger.WaitForAsync(1, TestContext.Current.CancellationToken);
        ledger.CollectFlushRequests();
        ledger.CompleteFlushWaiters();
        Assert.False(flushed.IsCompleted);

        ledger.Resolve(ledger.Take(), Resolution.Delivered);
        ledger.CompleteFlushWaiters();
        await flushed;
    }

    [Fact]
    public async Task At_shutdown_exactly_the_unresolved_events_are_dropped_through_the_ledger()
    {
        using var statistics = new UploadStatistics(null, () => 0);
        var ledger = new UploadLedger(statistics, replayed: 1);
        for (int i = 0; i < 5; i++)
        {
            ledger.Take(); // ordinals 2…6
        }

        Task flushed = ledger.WaitForAsync(6, TestContext.Current.CancellationToken);
        ledger.CollectFlushRequests();
        ledger.Resolve(3, Resolution.Delivered);
        ledger.Resolve(5, Resolution.DeadLettered, DeadLetterReasons.Rejected);

        Assert.Equal(4, ledger.DropUnresolved("shutdown")); // 1, 2, 4 and 6; never 3 or 5 a second time
        Assert.Equal(6, ledger.ResolvedCount);
        Assert.Equal(0, ledger.DropUnresolved("shutdown"));

        LogManagerStatistics snapshot = statistics.Snapshot(0);
        Assert.Equal(4, snapshot.EventsDropped["shutdown"]);
        Assert.Equal((1L, 1L), (snapshot.EventsUploaded, snapshot.EventsDeadLettered));
        ledger.CompleteFlushWaiters();
        await flushed;
    }

    [Fact]
    public void Every_counter_changes_with_the_resolution()
    {
        using var statistics = new UploadStatistics(null, () => 0);
        using var deadLettered = new MetricCollector<long>(statistics.Meter, "instrumentation.events.dead_lettered");
        var ledger = new UploadLedger(statistics, replayed: 0);
        for (int i = 0; i < 4; i++)
        {
            ledger.Take();
        }

        ledger.Resolve(1, Resolution.Delivered);
        ledger.Resolve(2, Resolution.DeadLettered, DeadLetterReasons.TooLarge);
        ledger.Resolve(3, Resolution.Dropped, "queue_full");
        ledger.Refused(2);

        LogManagerStatistics snapshot = statistics.Snapshot(0);
        Assert.Equal((4L, 1L, 1L), (snapshot.EventsRecorded, snapshot.EventsUploaded, snapshot.EventsDeadLettered));
        Assert.Equal(1, snapshot.EventsDropped["queue_full"]);
        Assert.Equal(2, snapshot.EventsDropped["inbox_full"]);
        Assert.Equal("too_large", Assert.Single(deadLettered.GetMeasurementSnapshot()).Tags["reason"]);
    }

    [Fact]
    public async Task Canceled_flushes_are_released_at_shutdown()
    {
        using var statistics = new UploadStatistics(null, () => 0);
        var ledger = new UploadLedger(statistics, replayed: 0);
        Task flushed = ledger.WaitForAsync(10, TestContext.Current.CancellationToken);

        ledger.CancelFlushWaiters();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => flushed);
    }
}
