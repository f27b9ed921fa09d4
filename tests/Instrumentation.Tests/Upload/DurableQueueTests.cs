using System.Text;
using Instrumentation.Spool;
using Microsoft.Extensions.Logging.Abstractions;

namespace Instrumentation.Tests.Upload;

/// <summary>The spool on its own, through its durable-queue interface: append, commit, read next, acknowledge, caps.</summary>
public sealed class DurableQueueTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "instrumentation-queue-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Records_come_back_in_order_and_acknowledged_segments_are_deleted()
    {
        var options = Options(segmentBytes: 400);
        using (IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance))
        {
            for (int i = 1; i <= 10; i++)
            {
                Assert.Equal(i, queue.Append(Entry(i, Priority.Batch)));
            }

            Assert.Equal(CommitResult.Durable, queue.Commit(Now));
            var receipts = new List<long>();
            for (int i = 1; i <= 10; i++)
            {
                Assert.True(queue.TryReadNext(out SpoolEntry entry, out long receipt));
                Assert.Equal((i, $"{{\"type\":\"e\",\"n\":{i}}}", "e"), (entry.Ordinal, Encoding.UTF8.GetString(entry.Json), entry.Type));
                receipts.Add(receipt);
            }

            Assert.False(queue.TryReadNext(out _, out _));
            Assert.True(Directory.GetFiles(_directory, "*.seg").Length > 1);
            receipts.ForEach(queue.Acknowledge);
            Assert.Single(Directory.GetFiles(_directory, "*.seg")); // only the active segment is left
        }

        Assert.Empty(Directory.GetFiles(_directory, "*.seg"));
    }

    [Fact]
    public void Unacknowledged_records_are_replayed_by_the_next_process_with_new_ordinals()
    {
        var options = Options(segmentBytes: 1024 * 1024);
        using (IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance))
        {
            for (int i = 1; i <= 3; i++)
            {
                queue.Append(Entry(100 + i, Priority.Batch));
            }

            queue.Commit(Now);
        }

        using IDurableQueue reopened = SpoolDirectory.Open(options, Now, NullLogger.Instance);
        Assert.Equal(3, reopened.ReplayedCount);
        var ordinals = new List<long>();
        while (reopened.TryReadNext(out SpoolEntry entry, out _))
        {
            ordinals.Add(entry.Ordinal);
        }

        Assert.Equal([1, 2, 3], ordinals);
    }

    [Fact]
    public async Task Waiters_are_released_by_the_published_commit_number_or_by_closing()
    {
        IDurableQueue queue = SpoolDirectory.Open(Options(segmentBytes: 4096), Now, NullLogger.Instance);
        queue.Append(Entry(1, Priority.Batch));
        Task first = Task.Run(() => queue.WaitForCommit(1), TestContext.Current.CancellationToken);
        Task third = Task.Run(() => queue.WaitForCommit(3), TestContext.Current.CancellationToken);

        queue.Publish(2); // 1 committed, 2 settled without a record (say, it could not be serialized)
        await first;
        Assert.False(third.IsCompleted);
        Assert.Equal(2, queue.CommittedThrough);

        queue.Dispose();
        await third; // closing never leaves anyone waiting
    }

    [Fact]
    public void Over_the_byte_cap_unread_batch_records_are_dropped_and_immediate_ones_appended_again()
    {
        var options = Options(segmentBytes: 300);
        options.MaxSpoolBytes = 600;
        using IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance);
        queue.Append(Entry(1, Priority.Batch));
        queue.Append(Entry(2, Priority.Immediate));
        queue.Append(Entry(3, Priority.Batch));
        queue.Append(Entry(4, Priority.Batch));
        for (int i = 5; i <= 12; i++)
        {
            queue.Append(Entry(i, Priority.Batch));
        }

        IReadOnlyList<SpoolDrop> dropped = queue.Trim(Now, incomingBytes: 0);

        Assert.True(queue.TotalBytes <= options.MaxSpoolBytes);
        Assert.DoesNotContain(dropped, d => d.Ordinal == 2);
        Assert.All(dropped, d => Assert.Equal("spool_full", d.Reason));
        var left = new List<long>();
        while (queue.TryReadNext(out SpoolEntry entry, out _))
        {
            left.Add(entry.Ordinal);
        }

        Assert.Contains(2L, left); // the immediate record kept its ordinal, at the end
        Assert.Equal(12, dropped.Count + left.Count); // every record is either dropped (reported) or still readable
    }

    [Fact]
    public void A_segment_file_that_cannot_be_deleted_does_not_make_acknowledging_or_appending_throw()
    {
        var options = Options(segmentBytes: 400);
        using IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance);
        for (int i = 1; i <= 10; i++)
        {
            queue.Append(Entry(i, Priority.Batch));
        }

        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
        string first = Directory.GetFiles(_directory, "*.seg").Order(StringComparer.Ordinal).First();
        File.Delete(first);
        Directory.CreateDirectory(Path.Combine(first, "x")); // the name now refuses File.Delete, even for root
        var receipts = new List<long>();
        while (queue.TryReadNext(out _, out long receipt))
        {
            receipts.Add(receipt);
        }

        // Before the fix the exception escaped Acknowledge (and, at a roll-over, Append): in the pipeline the loop then
        // failed and the event being appended was never resolved.
        receipts.ForEach(queue.Acknowledge);
        for (int i = 11; i <= 30; i++)
        {
            Assert.Equal(i, queue.Append(Entry(i, Priority.Batch)));
        }

        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
    }

    private LogManagerOptions Options(long segmentBytes) => new()
    {
        SpoolDirectory = _directory,
        SpoolFlushPolicy = SpoolFlushPolicy.Always,
        SpoolSegmentBytes = segmentBytes,
        MaxSpoolBytes = Math.Max(2 * segmentBytes, 1024 * 1024),
    };

    private static SpoolEntry Entry(long ordinal, Priority priority) =>
        new(ordinal, Guid.NewGuid(), "e", priority, Now, Encoding.UTF8.GetBytes($"{{\"type\":\"e\",\"n\":{ordinal}}}"));
}
