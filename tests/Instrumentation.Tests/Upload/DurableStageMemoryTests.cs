using System.Text;
using Instrumentation.Spool;
using Instrumentation.Upload;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>
/// The durable stage with events handed back by a failed spool write (a real spool on a disk that fills up): they and
/// the upload lanes share one memory cap.
/// </summary>
public sealed class DurableStageMemoryTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "instrumentation-stage-" + Guid.NewGuid().ToString("N"));
    private readonly FullDisk _disk = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Events_handed_back_by_a_failed_write_and_the_lanes_together_stay_within_MaxQueuedEvents()
    {
        var options = new LogManagerOptions { SpoolDirectory = _directory, SpoolFlushPolicy = SpoolFlushPolicy.None, MaxQueuedEvents = 10 };
        using var statistics = new UploadStatistics(null, () => 0, hasSpool: true);
        var ledger = new UploadLedger(statistics, replayed: 0);
        var lanes = new PendingEvents(options);
        using IDurableQueue queue = SpoolDirectory.Open(options, _time.GetUtcNow(), NullLogger.Instance, _disk.Create);
        var stage = new DurableStage(queue, options, ledger, statistics, _time, lanes);

        // Six events already wait in the lanes (read from the spool earlier: safe on disk, uploads pending).
        for (int n = 1; n <= 6; n++)
        {
            lanes.AddToBatch(QueuedEvent.Rent(1000 + n, Guid.NewGuid(), "e", Priority.Batch, Json(1000 + n), _time.GetUtcNow()));
        }

        for (int n = 1; n <= 8; n++)
        {
            long ordinal = ledger.Take();
            stage.Append(ordinal, Guid.NewGuid(), "e", Priority.Batch, _time.GetUtcNow(), Json(ordinal));
        }

        _disk.Budget = 0; // the commit's write fails: the eight come back to memory
        stage.Commit(ledger.Taken);

        // 6 in the lanes + 8 handed back = 14 > 10: the four oldest handed back are dropped, counted. Before the fix
        // the handed-back events had a cap of their own, so memory held up to twice MaxQueuedEvents.
        Assert.Equal(4, statistics.Snapshot(0).EventsDropped.GetValueOrDefault("queue_full"));
        var routed = new List<long>();
        stage.Refill(() => lanes.TotalCount < options.MaxQueuedEvents, item =>
        {
            routed.Add(item.Ordinal);
            lanes.AddToBatch(item);
        });
        Assert.Equal([5, 6, 7, 8], routed);
        Assert.Equal(options.MaxQueuedEvents, lanes.TotalCount);
        Assert.Equal(4, stage.DropInMemoryOnly("shutdown")); // those routed are still held in memory only
    }

    [Fact]
    public void Events_the_spool_cannot_take_wait_with_the_handed_back_ones_under_the_same_cap_not_pushed_into_the_lanes()
    {
        var options = new LogManagerOptions { SpoolDirectory = _directory, SpoolFlushPolicy = SpoolFlushPolicy.None, MaxQueuedEvents = 3 };
        using var statistics = new UploadStatistics(null, () => 0, hasSpool: true);
        var ledger = new UploadLedger(statistics, replayed: 0);
        var lanes = new PendingEvents(options);
        using IDurableQueue queue = SpoolDirectory.Open(options, _time.GetUtcNow(), NullLogger.Instance, _disk.Create);
        var stage = new DurableStage(queue, options, ledger, statistics, _time, lanes);

        stage.Append(ledger.Take(), Guid.NewGuid(), "e", Priority.Batch, _time.GetUtcNow(), Json(1));
        _disk.Budget = 10; // torn, and the file cannot be cut back: sealed
        _disk.TruncateFails = true;
        _disk.CreateFails = true; // and no new segment file can be created: the spool refuses the next events
        stage.Commit(ledger.Taken);
        for (int n = 2; n <= 4; n++)
        {
            stage.Append(ledger.Take(), Guid.NewGuid(), "e", Priority.Batch, _time.GetUtcNow(), Json(n));
        }

        Assert.Equal(0, lanes.TotalCount); // not pushed into the lanes past their cap (which would drop their oldest)
        Assert.Equal(1, statistics.Snapshot(0).EventsDropped.GetValueOrDefault("queue_full")); // 4 held > 3: the oldest goes
        var routed = new List<long>();
        stage.Refill(() => lanes.TotalCount < options.MaxQueuedEvents, item =>
        {
            routed.Add(item.Ordinal);
            lanes.AddToBatch(item);
        });
        Assert.Equal([2, 3, 4], routed);
        Assert.Equal(3, stage.DropInMemoryOnly("shutdown"));
    }

    private static byte[] Json(long n) => Encoding.UTF8.GetBytes($"{{\"type\":\"e\",\"n\":{n}}}");
}
