using Microsoft.AspNetCore.Http;

namespace Instrumentation.Tests.Upload;

/// <summary>Durable mode: the spool survives restarts, cuts corrupt tails, holds its caps, and reports misuse clearly.</summary>
public sealed class DurableModeTests : IDisposable
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "instrumentation-spool-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task Delivered_events_leave_no_segment_behind()
    {
        await using (var harness = await UploadHarness.StartAsync(o => o.SpoolDirectory = _spool))
        {
            for (int i = 0; i < 120; i++)
            {
                harness.Manager.AddLog(i % 10 == 0 ? UploadHarness.Immediate(index: i) : UploadHarness.Batch(index: i));
            }

            await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Equal(120, harness.Collector.Stored.Count);
        }

        Assert.Empty(Directory.GetFiles(_spool, "*.seg"));
    }

    [Fact]
    public async Task Events_left_by_an_earlier_process_are_replayed_with_their_ids()
    {
        var recorded = new List<Guid>();
        await using (var down = await UploadHarness.StartAsync(o => { o.SpoolDirectory = _spool; o.SpoolFlushPolicy = SpoolFlushPolicy.Always; o.ShutdownTimeout = TimeSpan.Zero; }))
        {
            down.Collector.Default = ScriptedCollector.DropConnection;
            for (int i = 0; i < 30; i++)
            {
                CustomLogEvent e = i == 0 ? UploadHarness.Immediate(index: i) : UploadHarness.Batch(index: i);
                down.Manager.AddLog(e);
                recorded.Add(e.EventId);
            }

            await UploadHarness.WaitUntil(() => down.Manager.GetStatistics().EventsDurable == 30, "the events are on disk");
        }

        Assert.NotEmpty(Directory.GetFiles(_spool, "*.seg"));
        // Read what was replayed before the loop starts: once it runs, the collector may already have some of them.
        await using var up = await UploadHarness.StartAsync(o => o.SpoolDirectory = _spool, start: false);
        Assert.Equal(30, up.Manager.GetStatistics().EventsReplayed);
        Assert.Equal(30, up.Manager.PendingCount);
        up.Manager.StartCore(attachToHub: false, registerProcessExit: false);

        await up.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(recorded.Order(), up.Collector.Stored.Keys.Order());
        Assert.All(up.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("zeros")]
    [InlineData("garbage")]
    public async Task A_torn_or_corrupt_tail_is_cut_off_and_the_good_records_are_kept(string damage)
    {
        await RecordWhileDownAsync(count: 10);
        string segment = Directory.GetFiles(_spool, "*.seg").Order(StringComparer.Ordinal).Last();
        long goodLength = new FileInfo(segment).Length;
        using (var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            switch (damage)
            {
                case "truncated":
                    file.SetLength(goodLength - 7); // the last record loses its end: a torn write
                    break;
                case "zeros":
                    file.Seek(0, SeekOrigin.End);
                    file.Write(new byte[300]);
                    break;
                default:
                    file.Seek(0, SeekOrigin.End);
                    file.Write(System.Text.Encoding.ASCII.GetBytes("power went out here #$%&"));
                    break;
            }
        }

        await using var up = await UploadHarness.StartAsync(o => o.SpoolDirectory = _spool);
        await up.Manager.FlushAsync(TestContext.Current.CancellationToken);

        LogManagerStatistics statistics = up.Manager.GetStatistics();
        Assert.Equal(damage == "truncated" ? 9 : 10, up.Collector.Stored.Count);
        Assert.True(statistics.SpoolCorruptBytes > 0);
        Assert.Equal(damage == "zeros" ? 300 : damage == "garbage" ? 24 : goodLength / 10 - 7, statistics.SpoolCorruptBytes);
    }

    [Fact]
    public async Task A_second_manager_on_the_same_directory_gets_a_clear_error()
    {
        await using var first = await UploadHarness.StartAsync(o => o.SpoolDirectory = _spool);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => UploadHarness.StartAsync(o => o.SpoolDirectory = _spool));

        Assert.Contains("in use by another process", error.Message, StringComparison.Ordinal);
        Assert.Contains("its own SpoolDirectory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_that_cannot_be_created_is_a_clear_error_at_start()
    {
        string file = Path.GetTempFileName();
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => UploadHarness.StartAsync(o => o.SpoolDirectory = Path.Combine(file, "spool")));

            Assert.Contains("cannot be created or used", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task During_a_long_outage_memory_stays_bounded_the_spool_stops_at_its_cap_and_what_it_holds_arrives()
    {
        const long Cap = 64 * 1024;
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.SpoolDirectory = _spool;
            o.SpoolSegmentBytes = 8 * 1024;
            o.MaxSpoolBytes = Cap;
            o.MaxQueuedEvents = 100;
            o.MaxBatchSize = 50;
            o.CircuitBreakerThreshold = 1;
        });
        harness.Collector.Default = ScriptedCollector.DropConnection;
        long largestSpool = 0;
        var immediateIds = new List<Guid>();
        for (int i = 0; i < 3000; i++)
        {
            CustomLogEvent e = i % 500 == 0 ? UploadHarness.Immediate(index: i) : UploadHarness.Batch(index: i);
            harness.Manager.AddLog(e);
            if (e.Priority == Priority.Immediate)
            {
                immediateIds.Add(e.EventId);
            }

            if (i % 100 == 99)
            {
                await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == i + 1, "the events are taken");
                largestSpool = Math.Max(largestSpool, SpoolSize());
                harness.Time.Advance(TimeSpan.FromSeconds(10)); // the outage goes on: retries keep failing
            }
        }

        LogManagerStatistics during = harness.Manager.GetStatistics();
        Assert.InRange(largestSpool, Cap / 2, Cap);
        Assert.True(during.EventsDropped.GetValueOrDefault("spool_full") > 1000, "old batch events were dropped at the cap");
        Assert.False(during.EventsDropped.ContainsKey("queue_full"), "memory never needed to drop: the spool holds the backlog");

        harness.Collector.Default = null; // the collector is back
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
        while (!flushed.IsCompleted)
        {
            harness.Time.Advance(TimeSpan.FromSeconds(10));
            await Task.WhenAny(flushed, Task.Delay(10, TestContext.Current.CancellationToken));
        }

        await flushed;
        LogManagerStatistics after = harness.Manager.GetStatistics();
        Assert.Equal(3000, harness.Collector.Stored.Count + after.EventsDropped["spool_full"]);
        Assert.All(immediateIds, id => Assert.True(harness.Collector.Stored.ContainsKey(id), "an immediate event was dropped while batch events remained"));
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
        Assert.Equal(0, harness.Manager.PendingCount);
    }

    [Fact]
    public async Task Events_older_than_the_age_cap_are_dropped_batch_first()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.SpoolDirectory = _spool;
            o.SpoolSegmentBytes = 1024;
            o.MaxSpoolAge = TimeSpan.FromDays(7);
            o.MaxQueuedEvents = 10;
            o.MaxBatchSize = 10;
            o.CircuitBreakerThreshold = 1;
        });
        harness.Collector.Default = ScriptedCollector.DropConnection;
        CustomLogEvent immediate = UploadHarness.Immediate(index: -1);
        harness.Manager.AddLog(immediate);
        for (int i = 0; i < 40; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 41, "the events are taken");
        harness.Time.Advance(TimeSpan.FromDays(8));
        harness.Manager.AddLog(UploadHarness.Batch(index: 1000)); // a fresh event wakes the loop, which applies the age cap
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsDropped.GetValueOrDefault("spool_age") > 0, "old events were dropped");

        harness.Collector.Default = null;
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
        while (!flushed.IsCompleted)
        {
            harness.Time.Advance(TimeSpan.FromSeconds(10));
            await Task.WhenAny(flushed, Task.Delay(10, TestContext.Current.CancellationToken));
        }

        Assert.Contains(immediate.EventId, harness.Collector.Stored.Keys);
        Assert.Equal(42, harness.Collector.Stored.Count + harness.Manager.GetStatistics().EventsDropped["spool_age"]);
    }

    [Fact]
    public async Task Always_policy_returns_from_recording_only_once_the_record_is_on_disk()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.SpoolDirectory = _spool;
            o.SpoolFlushPolicy = SpoolFlushPolicy.Always;
        });

        for (int i = 1; i <= 20; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
            Assert.True(harness.Manager.GetStatistics().EventsDurable >= i, $"event {i} was not durable when AddLog returned");
        }
    }

    [Fact]
    public async Task Interval_policy_forces_records_to_disk_when_the_interval_passes()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.SpoolDirectory = _spool;
            o.SpoolFlushPolicy = SpoolFlushPolicy.Interval;
            o.SpoolFlushInterval = TimeSpan.FromMilliseconds(200);
        });
        harness.Time.Advance(TimeSpan.FromMilliseconds(200));
        for (int i = 0; i < 5; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsDurable == 5, "the first group commit is forced to disk");
        for (int i = 5; i < 8; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 8, "the events are taken");
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal(5, harness.Manager.GetStatistics().EventsDurable); // written, not yet forced: inside the interval

        harness.Time.Advance(TimeSpan.FromMilliseconds(200));
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsDurable == 8, "the interval passed and the rest is forced to disk");
    }

    private long SpoolSize() => Directory.GetFiles(_spool, "*.seg").Sum(f => new FileInfo(f).Length);

    private async Task RecordWhileDownAsync(int count)
    {
        await using var down = await UploadHarness.StartAsync(o => { o.SpoolDirectory = _spool; o.SpoolFlushPolicy = SpoolFlushPolicy.Always; o.ShutdownTimeout = TimeSpan.Zero; });
        down.Collector.Default = ScriptedCollector.DropConnection;
        for (int i = 0; i < count; i++)
        {
            down.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => down.Manager.GetStatistics().EventsDurable == count, "the events are on disk");
    }

}
