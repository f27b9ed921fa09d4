using System.Text;
using Instrumentation.Spool;
using Microsoft.Extensions.Logging.Abstractions;

namespace Instrumentation.Tests.Upload;

/// <summary>The spool on its own when a write fails part way (a full disk): what is on disk, what comes back, what a restart reads.</summary>
public sealed class TornWriteQueueTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "instrumentation-torn-" + Guid.NewGuid().ToString("N"));
    private readonly string _snapshot = Path.Combine(Path.GetTempPath(), "instrumentation-torn-killed-" + Guid.NewGuid().ToString("N"));
    private readonly FullDisk _disk = new();

    public void Dispose()
    {
        foreach (string directory in new[] { _directory, _snapshot })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public void A_torn_write_is_cut_back_to_the_last_whole_record_and_its_records_are_handed_back_not_read()
    {
        using (IDurableQueue queue = Open())
        {
            AppendAll(queue, 1, 2, 3);
            Assert.Equal(CommitResult.Durable, queue.Commit(Now));
            long whole = SegmentLength();

            _disk.Budget = Size(4) + 20; // record 4 fits, record 5 is torn after 20 bytes
            AppendAll(queue, 4, 5, 6);
            Assert.Equal(CommitResult.Failed, queue.Commit(Now));

            Assert.Equal(whole, SegmentLength()); // the whole record 4 and the torn part of 5 are gone from the file
            Assert.Equal(whole, queue.TotalBytes);
            Assert.Equal([4, 5, 6], Returned(queue));
            Assert.Equal([1, 2, 3], ReadAll(queue)); // the handed-back records are never read

            _disk.Budget = long.MaxValue; // the disk has room again: later records are written where the torn ones were
            AppendAll(queue, 7);
            Assert.Equal(CommitResult.Durable, queue.Commit(Now));
            Assert.Equal([7], ReadAll(queue));
            Assert.Empty(Returned(queue));
        }

        using IDurableQueue reopened = SpoolDirectory.Open(Options(), Now, NullLogger.Instance);
        Assert.Equal(0, reopened.CorruptBytes);
        Assert.Equal([1, 2, 3, 7], ReadAll(reopened)); // replayed: numbered anew, but the JSON says which
    }

    [Fact]
    public void While_the_disk_stays_full_every_commit_hands_its_records_back_and_the_file_never_holds_a_torn_record()
    {
        using IDurableQueue queue = Open();
        AppendAll(queue, 1);
        queue.Commit(Now);
        long whole = SegmentLength();
        _disk.Budget = 0;
        for (int round = 0; round < 20; round++)
        {
            AppendAll(queue, 100 + (2 * round), 101 + (2 * round));
            Assert.Equal(CommitResult.Failed, queue.Commit(Now));
            Assert.Equal([100 + (2 * round), 101 + (2 * round)], Returned(queue));
            Assert.Equal(whole, SegmentLength());
        }

        Assert.Equal([1], ReadAll(queue));
    }

    [Fact]
    public void Killed_in_the_middle_of_a_failed_write_the_next_start_replays_its_whole_records_once_and_cuts_the_torn_one()
    {
        using IDurableQueue queue = Open();
        AppendAll(queue, 1, 2);
        queue.Commit(Now);
        _disk.Budget = Size(3) + 30; // 3 whole, 4 torn
        _disk.OnTornWrite = () => Snapshot(); // the disk as a kill -9 right after the torn write leaves it
        AppendAll(queue, 3, 4);
        queue.Commit(Now);

        using IDurableQueue restarted = SpoolDirectory.Open(Options(_snapshot), Now, NullLogger.Instance);
        Assert.Equal(30, restarted.CorruptBytes); // the torn record is cut
        Assert.Equal([1, 2, 3], ReadAll(restarted)); // the whole one was never handed back in the killed process: once
    }

    [Fact]
    public void When_the_file_cannot_be_cut_back_the_segment_is_sealed_and_no_record_of_the_failed_write_is_ever_replayed()
    {
        using IDurableQueue queue = Open();
        AppendAll(queue, 1, 2);
        queue.Commit(Now);
        _disk.Budget = Size(3) + Size(4) + 10; // 3 and 4 whole on disk, 5 torn, and the file cannot be cut back
        _disk.TruncateFails = true;
        AppendAll(queue, 3, 4, 5);
        Assert.Equal(CommitResult.Failed, queue.Commit(Now));
        Assert.Equal([3, 4, 5], Returned(queue)); // uploaded from memory: they must not come back after a restart

        _disk.Budget = long.MaxValue;
        AppendAll(queue, 6); // goes to a new segment
        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
        Assert.Equal(2, Directory.GetFiles(_directory, "*.seg").Length);
        Assert.Equal([1, 2, 6], ReadAll(queue));

        Snapshot(); // killed now
        using IDurableQueue restarted = SpoolDirectory.Open(Options(_snapshot), Now, NullLogger.Instance);
        Assert.Equal([1, 2, 6], ReadAll(restarted));
        Assert.True(restarted.CorruptBytes > 0, "the zeroed header ends the sealed segment");
    }

    [Fact]
    public void A_failed_write_inside_append_hands_back_earlier_records_and_later_ones_are_still_written()
    {
        LogManagerOptions options = Options();
        using IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance, _disk.Create);
        _disk.Budget = 1000; // the first 64 KiB write (inside Append, without a commit) fails part way
        var appended = new List<long>();
        for (int n = 1; n <= 1000; n++)
        {
            Assert.Equal(n, queue.Append(Entry(n, Priority.Batch, padding: 200)));
            appended.Add(n);
            if (n == 500)
            {
                _disk.Budget = long.MaxValue;
            }
        }

        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
        List<long> returned = Returned(queue);
        List<long> read = ReadAll(queue);
        Assert.NotEmpty(returned);
        Assert.Equal(appended, returned.Concat(read).Order()); // every record once: either handed back or read
        Assert.Equal(read.Count, ReopenedRecordCount());
    }

    [Fact]
    public void A_segment_sealed_inside_append_is_forced_to_disk_before_it_is_closed_so_the_next_commit_may_call_its_records_durable()
    {
        using IDurableQueue queue = Open();
        _disk.Budget = 70 * 1024; // the first 64 KiB write (inside Append) succeeds unsynced, the second is torn
        _disk.TruncateFails = true; // and cannot be cut back: sealed
        for (int n = 1; n <= 700; n++)
        {
            Assert.Equal(n, queue.Append(Entry(n, Priority.Batch, padding: 200)));
            if (_disk.FailedWrites > 0)
            {
                _disk.Budget = long.MaxValue; // later records go to a new segment
            }
        }

        Assert.Equal(1, _disk.FailedWrites);
        Assert.Equal(CommitResult.Durable, queue.Commit(Now)); // syncs the new segment only
        Assert.Equal(0, _disk.ClosedUnsynced); // before the fix the sealed segment was closed without an fsync
    }

    [Fact]
    public void When_the_sealed_segment_cannot_be_forced_to_disk_the_next_commit_is_not_durable()
    {
        using IDurableQueue queue = Open();
        _disk.Budget = 70 * 1024;
        _disk.TruncateFails = true;
        _disk.FailNextSync = true; // the fsync of the sealed segment fails
        for (int n = 1; n <= 700; n++)
        {
            queue.Append(Entry(n, Priority.Batch, padding: 200));
            if (_disk.FailedWrites > 0)
            {
                _disk.Budget = long.MaxValue;
            }
        }

        Assert.False(_disk.FailNextSync, "the sealed segment was synced");
        Assert.Equal(CommitResult.Failed, queue.Commit(Now)); // its records were never confirmed: never counted durable
        queue.Append(Entry(701, Priority.Batch));
        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
    }

    [Fact]
    public void A_failed_fsync_at_a_segment_roll_over_makes_the_next_commit_not_durable_even_when_its_own_fsync_succeeds()
    {
        LogManagerOptions options = Options();
        options.SpoolSegmentBytes = 1024;
        using IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance, _disk.Create);
        AppendAll(queue, 1, 2, 3);
        Assert.Equal(CommitResult.Durable, queue.Commit(Now));

        _disk.FailNextSync = true; // the roll-over's fsync (inside Append) fails: the segment stays and grows
        AppendAll(queue, [.. Enumerable.Range(4, 30).Select(n => (long)n)]);
        Assert.False(_disk.FailNextSync, "the roll-over was tried");
        Assert.Equal(CommitResult.Failed, queue.Commit(Now)); // its own fsync succeeds, but says nothing of the failed one

        AppendAll(queue, 34);
        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
        Assert.Equal([.. Enumerable.Range(1, 34).Select(n => (long)n)], ReadAll(queue));
    }

    [Fact]
    public void A_segment_at_the_file_size_limit_EFBIG_is_cut_back_and_the_next_records_go_to_a_new_segment()
    {
        _disk.FileSizeLimit = Size(1) + Size(2) + Size(3) + 10;
        using (IDurableQueue queue = Open())
        {
            AppendAll(queue, 1, 2, 3);
            Assert.Equal(CommitResult.Durable, queue.Commit(Now));
            AppendAll(queue, 4);
            Assert.Equal(CommitResult.Failed, queue.Commit(Now));
            Assert.Equal([4], Returned(queue));

            // Before the fix every later write went to the same file and failed the same way, for good.
            AppendAll(queue, 5);
            Assert.Equal(CommitResult.Durable, queue.Commit(Now));
            Assert.Empty(Returned(queue));
            Assert.Equal(2, Directory.GetFiles(_directory, "*.seg").Length);
            Assert.Equal([1, 2, 3, 5], ReadAll(queue));
            Snapshot(); // killed now
        }

        using IDurableQueue restarted = SpoolDirectory.Open(Options(_snapshot), Now, NullLogger.Instance);
        Assert.Equal(0, restarted.CorruptBytes);
        Assert.Equal([1, 2, 3, 5], ReadAll(restarted));
    }

    [Fact]
    public void A_failed_fsync_is_logged_as_such_not_as_a_failed_write_whose_events_went_back_to_memory()
    {
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        using IDurableQueue queue = SpoolDirectory.Open(Options(), Now, new Microsoft.Extensions.Logging.Testing.FakeLogger(logs), _disk.Create);
        AppendAll(queue, 1);
        _disk.FailNextSync = true;
        Assert.Equal(CommitResult.Failed, queue.Commit(Now));
        Assert.Empty(Returned(queue)); // written: it stays in the spool
        Assert.Equal([24], logs.GetSnapshot().Select(r => r.Id.Id));

        AppendAll(queue, 2);
        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
        Assert.Equal([24, 23], logs.GetSnapshot().Select(r => r.Id.Id)); // and that writes succeed again
        Assert.Equal([1, 2], ReadAll(queue));
    }

    [Fact]
    public void While_writes_fail_the_buffer_holds_at_most_MaxQueuedEvents_records_before_they_are_tried_and_handed_back()
    {
        LogManagerOptions options = Options();
        options.MaxQueuedEvents = 10;
        using IDurableQueue queue = SpoolDirectory.Open(options, Now, NullLogger.Instance, _disk.Create);
        AppendAll(queue, 1);
        Assert.Equal(CommitResult.Durable, queue.Commit(Now));
        _disk.Budget = 0;
        AppendAll(queue, 2);
        Assert.Equal(CommitResult.Failed, queue.Commit(Now));
        Assert.Equal([2], Returned(queue));

        // Without a commit: before the fix they all waited in the 64 KiB buffer, in memory past the cap and uncounted.
        AppendAll(queue, [.. Enumerable.Range(3, 25).Select(n => (long)n)]);
        Assert.Equal([.. Enumerable.Range(3, 20).Select(n => (long)n)], Returned(queue));
        Assert.Equal(CommitResult.Failed, queue.Commit(Now));
        Assert.Equal([.. Enumerable.Range(23, 5).Select(n => (long)n)], Returned(queue));
        Assert.Equal([1], ReadAll(queue));
    }

    private int ReopenedRecordCount()
    {
        Snapshot();
        using IDurableQueue reopened = SpoolDirectory.Open(Options(_snapshot), Now, NullLogger.Instance);
        Assert.Equal(0, reopened.CorruptBytes);
        return (int)reopened.ReplayedCount;
    }

    private IDurableQueue Open() => SpoolDirectory.Open(Options(), Now, NullLogger.Instance, _disk.Create);

    private LogManagerOptions Options(string? directory = null) => new()
    {
        SpoolDirectory = directory ?? _directory,
        SpoolFlushPolicy = SpoolFlushPolicy.Always,
        SpoolSegmentBytes = 1024 * 1024,
    };

    /// <summary>Copies the segment files as they are on disk now: what a restart after a kill -9 at this instant finds.</summary>
    private void Snapshot()
    {
        Directory.CreateDirectory(_snapshot);
        foreach (string file in Directory.GetFiles(_directory, "*.seg"))
        {
            File.Copy(file, Path.Combine(_snapshot, Path.GetFileName(file)), overwrite: true);
        }
    }

    private long SegmentLength() => new FileInfo(Directory.GetFiles(_directory, "*.seg").Order(StringComparer.Ordinal).First()).Length;

    private static void AppendAll(IDurableQueue queue, params long[] numbers)
    {
        foreach (long n in numbers)
        {
            Assert.Equal(n, queue.Append(Entry(n, Priority.Batch)));
        }
    }

    private static List<long> Returned(IDurableQueue queue)
    {
        var numbers = new List<long>();
        while (queue.TryTakeReturned(out SpoolEntry entry))
        {
            Assert.Equal(entry.Ordinal, Number(entry));
            numbers.Add(entry.Ordinal);
        }

        return numbers;
    }

    /// <summary>Reads every record; returns the numbers in their JSON (replayed records get new ordinals).</summary>
    private static List<long> ReadAll(IDurableQueue queue)
    {
        var numbers = new List<long>();
        while (queue.TryReadNext(out SpoolEntry entry, out _))
        {
            numbers.Add(Number(entry));
        }

        return numbers;
    }

    private static long Number(in SpoolEntry entry) =>
        System.Text.Json.JsonDocument.Parse(entry.Json.ToArray()).RootElement.GetProperty("n").GetInt64();

    private static int Size(long n) => SpoolRecord.SizeOf(Json(n, 0).Length);

    private static byte[] Json(long n, int padding) => Encoding.UTF8.GetBytes($"{{\"type\":\"e\",\"n\":{n},\"pad\":\"{new string('x', padding)}\"}}");

    private static SpoolEntry Entry(long ordinal, Priority priority, int padding = 0) =>
        new(ordinal, Guid.NewGuid(), "e", priority, Now, Json(ordinal, padding));
}
