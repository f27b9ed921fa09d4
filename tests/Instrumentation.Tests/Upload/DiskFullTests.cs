using Instrumentation.Spool;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>
/// Durable mode when the disk fills up (real segment files; writes past <see cref="FullDisk.Budget"/> are torn and
/// fail): nothing is lost uncounted, nothing is uploaded twice, flushes complete, and a restart reads the spool cleanly.
/// </summary>
public sealed class DiskFullTests : IDisposable
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "instrumentation-diskfull-" + Guid.NewGuid().ToString("N"));
    private readonly FullDisk _disk = new();
    private readonly FakeLogCollector _spoolLogs = new();

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task A_torn_write_while_the_uploader_is_behind_is_uploaded_once_or_counted_and_the_flush_completes()
    {
        var ids = new List<Guid>();
        await using (UploadHarness harness = await StartAsync(o => o.MaxQueuedEvents = 100))
        {
            harness.Collector.Default = ScriptedCollector.DropConnection;

            // Behind: more unread records than the spool keeps copies of (4,096), so they are read back from the file.
            await RecordAsync(harness, ids, 5000);
            _disk.Budget = 700; // the next write is torn part way through a record, and the disk stays full
            await RecordAsync(harness, ids, 100, until: () => _disk.FailedWrites > 0);
            _disk.Budget = long.MaxValue; // it clears
            await RecordAsync(harness, ids, 100);

            harness.Collector.Default = null;
            await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

            // Before the fix the records of the failed write were read back as corrupt: lost, uncounted, still pending.
            // The lanes were full of the spool's events (MaxQueuedEvents), so the events of the failed write, in memory
            // only, had no room under the same cap: dropped and counted.
            LogManagerStatistics statistics = harness.Manager.GetStatistics();
            Assert.Equal(0, statistics.PendingCount);
            Assert.Equal(["queue_full"], statistics.EventsDropped.Keys);
            Assert.InRange(statistics.EventsDropped["queue_full"], 1, 100);
            Assert.Equal(0, statistics.SpoolCorruptBytes); // nothing torn was ever read
            Assert.Equal(ids.Count, harness.Collector.Stored.Count + statistics.EventsDropped["queue_full"]);
            Assert.True(harness.Collector.Stored.Keys.All(ids.Contains));
            Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
            Assert.Single(_spoolLogs.GetSnapshot(), r => r.Id.Id == 21); // the failure, once
            Assert.Single(_spoolLogs.GetSnapshot(), r => r.Id.Id == 23); // and that writes succeed again
        }

        using IDurableQueue reopened = SpoolDirectory.Open(new LogManagerOptions { SpoolDirectory = _spool }, UploadHarness.Start, NullLogger.Instance);
        Assert.Equal(0, reopened.CorruptBytes);
        Assert.Equal(0, reopened.ReplayedCount); // delivered, so not sent again
    }

    [Fact]
    public async Task While_the_disk_stays_full_memory_is_capped_what_is_dropped_is_counted_and_a_restart_sends_what_the_spool_holds()
    {
        var ids = new List<Guid>();
        UploadHarness down = await StartAsync(o => o.MaxQueuedEvents = 100);
        down.Collector.Default = ScriptedCollector.DropConnection;
        await RecordAsync(down, ids, 300);
        await UploadHarness.WaitUntil(() => down.Manager.GetStatistics().EventsDurable == 300, "the first events are on disk");
        _disk.Budget = 0; // full, for good
        await RecordAsync(down, ids, 1000);

        // Memory is capped: the lanes hold MaxQueuedEvents of the spool's events (the collector is down), so there is
        // no room for events kept in memory only, and all 1,000 are dropped, counted. Before the fix the handed-back
        // events had a cap of their own (and the write buffer held more again), so up to several hundred stayed.
        await UploadHarness.WaitUntil(() => down.Manager.GetStatistics().EventsDropped.GetValueOrDefault("queue_full") == 1000, "every event of the full disk is dropped");
        LogManagerStatistics during = down.Manager.GetStatistics();
        Assert.Equal(300, during.EventsDurable);
        Assert.Equal(300, during.PendingCount);

        // Shutdown with the collector still down: those kept in memory are dropped (counted), the 300 in the spool stay.
        await down.DisposeAsync();
        LogManagerStatistics after = down.Manager.GetStatistics();
        Assert.Equal(1000, after.EventsDropped.Values.Sum());
        Assert.Equal(300, after.PendingCount);

        await using UploadHarness up = await StartAsync(start: false, disk: false);
        Assert.Equal(300, up.Manager.GetStatistics().EventsReplayed);
        Assert.Equal(0, up.Manager.GetStatistics().SpoolCorruptBytes);
        up.Manager.StartCore(attachToHub: false, registerProcessExit: false);
        await up.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ids.Take(300).Order(), up.Collector.Stored.Keys.Order());
        Assert.All(up.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task The_shutdown_of_a_manager_holding_events_of_a_failed_write_counts_them_as_dropped_not_left_in_the_spool()
    {
        UploadHarness harness = await StartAsync(o => o.ShutdownTimeout = TimeSpan.Zero);
        harness.Collector.Default = ScriptedCollector.DropConnection;
        var ids = new List<Guid>();
        await RecordAsync(harness, ids, 10);
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsDurable == 10, "the first events are on disk");
        _disk.Budget = 0;
        await RecordAsync(harness, ids, 5, until: () => _disk.FailedWrites > 0);

        await harness.DisposeAsync();

        LogManagerStatistics statistics = harness.Manager.GetStatistics();
        Assert.Equal(5, statistics.EventsDropped["shutdown"]);
        Assert.Equal(10, statistics.PendingCount); // left in the spool, sent by the next start
        using IDurableQueue reopened = SpoolDirectory.Open(new LogManagerOptions { SpoolDirectory = _spool }, UploadHarness.Start, NullLogger.Instance);
        Assert.Equal(10, reopened.ReplayedCount);
        Assert.Equal(0, reopened.CorruptBytes);
    }

    [Fact]
    public async Task Under_the_Always_policy_a_recording_whose_write_fails_returns_and_is_not_counted_durable()
    {
        await using UploadHarness harness = await StartAsync(o => o.SpoolFlushPolicy = SpoolFlushPolicy.Always);
        harness.Collector.Default = ScriptedCollector.DropConnection;
        for (int i = 0; i < 5; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        Assert.Equal(5, harness.Manager.GetStatistics().EventsDurable);
        _disk.Budget = 0;
        for (int i = 5; i < 8; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i)); // returns: its write failed, it is kept in memory
        }

        Assert.Equal(5, harness.Manager.GetStatistics().EventsDurable);
        _disk.Budget = long.MaxValue;
        harness.Manager.AddLog(UploadHarness.Batch(index: 8));
        Assert.Equal(6, harness.Manager.GetStatistics().EventsDurable);

        harness.Collector.Default = null;
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(9, harness.Collector.Stored.Count);
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task When_the_file_cannot_be_cut_back_no_event_of_the_failed_write_is_sent_by_the_next_start()
    {
        var ids = new List<Guid>();
        await using (UploadHarness down = await StartAsync(o => o.ShutdownTimeout = TimeSpan.Zero))
        {
            down.Collector.Default = ScriptedCollector.DropConnection;
            await RecordAsync(down, ids, 10);
            await UploadHarness.WaitUntil(() => down.Manager.GetStatistics().EventsDurable == 10, "the first events are on disk");
            _disk.Budget = 300; // whole records and a torn one reach the disk, and the file cannot be cut back: sealed
            _disk.TruncateFails = true;
            await RecordAsync(down, ids, 5, until: () => _disk.FailedWrites > 0);
            _disk.Budget = long.MaxValue;
            await RecordAsync(down, ids, 5); // a new segment
            await UploadHarness.WaitUntil(() => down.Manager.GetStatistics().EventsDurable == 15, "the later events are on disk");
        }

        await using UploadHarness up = await StartAsync(disk: false);
        await up.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        // The five of the failed write were dropped (shutdown) by the first process: sending them now would count
        // them twice. The zeroed header after the sealed segment's last whole record keeps recovery from reading them.
        Assert.Equal(ids.Take(10).Concat(ids.Skip(15)).Order(), up.Collector.Stored.Keys.Order());
        Assert.True(up.Manager.GetStatistics().SpoolCorruptBytes > 0);
    }

    [Fact]
    public async Task A_disk_that_fills_and_clears_again_and_again_loses_nothing_uncounted_and_uploads_nothing_twice()
    {
        int seed = Random.Shared.Next();
        var random = new Random(seed);
        var ids = new List<Guid>();
        await using UploadHarness harness = await StartAsync(o => o.MaxQueuedEvents = 200);
        var answers = new Random(seed); // its own generator: requests are answered on Kestrel's threads, in parallel
        harness.Collector.Default = (context, request) =>
        {
            bool refuse;
            lock (answers)
            {
                refuse = answers.Next(3) == 0; // System.Random is not thread-safe: unlocked, it can break down to zeros
            }

            return refuse ? ScriptedCollector.DropConnection(context, request) : Task.FromResult(true);
        };
        for (int round = 0; round < 30; round++)
        {
            _disk.Budget = random.Next(4) == 0 ? long.MaxValue : random.Next(0, 20_000);
            await RecordAsync(harness, ids, random.Next(1, 400));
            harness.Time.Advance(TimeSpan.FromSeconds(random.Next(0, 3)));
        }

        _disk.Budget = long.MaxValue;
        harness.Collector.Default = null;
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        LogManagerStatistics statistics = harness.Manager.GetStatistics();
        string because = $"seed {seed}";
        Assert.True(ids.Count == harness.Collector.Stored.Count + statistics.EventsDropped.Values.Sum(), because);
        Assert.True(harness.Collector.Stored.Keys.All(ids.Contains), because);
        Assert.True(harness.Collector.Stored.Values.All(n => n == 1), because);
        Assert.True(statistics.SpoolCorruptBytes == 0, because);
        Assert.True(statistics.PendingCount == 0, because);
    }

    private Task<UploadHarness> StartAsync(Action<LogManagerOptions>? configure = null, bool start = true, bool disk = true) =>
        UploadHarness.StartAsync(
            o =>
            {
                o.SpoolDirectory = _spool;
                o.SpoolFlushPolicy = SpoolFlushPolicy.None;
                o.CircuitBreakerThreshold = 1;
                configure?.Invoke(o);
            },
            start,
            spool: disk ? options => SpoolDirectory.Open(options, UploadHarness.Start, new FakeLogger(_spoolLogs), _disk.Create) : null);

    /// <summary>Records <paramref name="count"/> batch events and waits until the loop took them (and <paramref name="until"/> holds).</summary>
    private static async Task RecordAsync(UploadHarness harness, List<Guid> ids, int count, Func<bool>? until = null)
    {
        for (int i = 0; i < count; i++)
        {
            CustomLogEvent e = UploadHarness.Batch(index: ids.Count);
            harness.Manager.AddLog(e);
            ids.Add(e.EventId);
        }

        int total = ids.Count;
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == total && (until?.Invoke() ?? true), $"{total} events are taken");
    }

}
