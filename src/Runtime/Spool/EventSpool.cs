using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>
/// The spool of durable mode, a <see cref="IDurableQueue"/> on segment files: every event is appended before the
/// uploader reads it back, and a segment is deleted only when every record in it has been acknowledged. At open,
/// what an earlier process left is replayed oldest first; a torn or corrupt tail is cut off and counted.
/// </summary>
/// <remarks>
/// One cursor marks the oldest record not yet read. Records appended while the uploader keeps up are also kept in a
/// <see cref="SpoolTail"/>, so they are not read back from disk. Receipts are segment numbers: a segment counts the
/// records read from it and not yet acknowledged. Writing, and what a failed write leaves, is the
/// <see cref="SpoolWriter"/>'s: a record is read only once it is written, so the records a failed write hands back
/// were never read.
/// </remarks>
internal sealed class EventSpool : IDurableQueue
{
    private readonly LogManagerOptions _options;
    private readonly FileStream _lock;
    private readonly List<SpoolSegment> _segments;
    private readonly SpoolTail _tail = new();
    private readonly List<SpoolDrop> _dropped = [];
    private readonly CommitWatermark _committed = new();
    private readonly SpoolReader _reader = new();
    private readonly SpoolWriter _writer;
    private TailRecord? _lent;
    private SpoolSegment? _cursorSegment;
    private long _cursorOffset;
    private bool _tailComplete;
    private long _replayOrdinal;
    private long _failedWritesSeen;

    /// <summary>Checks what an earlier process left in the (locked) directory and starts a new segment; use <see cref="SpoolDirectory.Open"/>.</summary>
    /// <param name="options">The spool's options.</param>
    /// <param name="directory">The spool directory (full path).</param>
    /// <param name="lockFile">The directory's lock, held while the spool is open; closed with it.</param>
    /// <param name="now">The time now (for the flush interval).</param>
    /// <param name="logger">Where the spool logs.</param>
    /// <param name="createFile">Creates a segment file for writing (tests pass one whose writes fail).</param>
    internal EventSpool(LogManagerOptions options, string directory, FileStream lockFile, DateTimeOffset now, ILogger logger, Func<string, ISegmentFile> createFile)
    {
        _options = options;
        _lock = lockFile;
        (List<SpoolSegment> segments, long replayed, long corrupt, long lastNumber) = SpoolRecovery.Recover(directory, logger);
        _segments = segments;
        ReplayedCount = replayed;
        CorruptBytes = corrupt;
        _writer = new SpoolWriter(options, directory, lastNumber + 1, createFile, Started, now, logger);
        _segments.Add(_writer.Active);
        _cursorSegment = _segments[0];
        _tailComplete = replayed == 0;
    }

    public long ReplayedCount { get; }

    public long CorruptBytes { get; private set; }

    public long TotalBytes
    {
        get
        {
            long total = 0;
            foreach (SpoolSegment segment in _segments)
            {
                total += segment.Length;
            }

            return total;
        }
    }

    public DateTimeOffset? NextSyncDue => _writer.NextSyncDue;

    public long CommittedThrough => _committed.Value;

    public long Append(in SpoolEntry entry)
    {
        int size = SpoolRecord.SizeOf(entry.Json.Length);
        if (_writer.Active.Length > 0 && _writer.Active.Length + size > _options.SpoolSegmentBytes)
        {
            _writer.Rotate();
        }

        bool taken = _writer.TryAppend(entry, out SpoolSegment segment, out long offset);
        ForgetReturnedRecords();
        if (!taken)
        {
            return 0;
        }

        if (_tailComplete && !_tail.TryAdd(entry, segment, offset))
        {
            _tailComplete = false; // the uploader is behind: read these records back from disk later
            _tail.Clear();
        }

        return entry.Ordinal;
    }

    public CommitResult Commit(DateTimeOffset now)
    {
        CommitResult result = _writer.Commit(now);
        ForgetReturnedRecords();
        return result;
    }

    public bool TryTakeReturned(out SpoolEntry entry) => _writer.TryTakeReturned(out entry);

    public void WaitForCommit(long commitNumber) => _committed.WaitFor(commitNumber);

    public bool TryReadNext(out SpoolEntry entry, out long receipt)
    {
        _lent?.Release();
        _lent = null;
        if (_writer.HasPending)
        {
            // Records are read only once written (the loop commits before it reads, so this is rare): a record read
            // and then handed back by a failed write would be uploaded twice.
            _writer.TryWritePending();
            ForgetReturnedRecords();
        }

        if (_tailComplete)
        {
            if (_tail.Count == 0)
            {
                entry = default;
                receipt = 0;
                return false;
            }

            TailRecord cached = _tail.Take();
            _lent = cached;
            MoveCursor(cached.Segment, cached.Offset + SpoolRecord.SizeOf(cached.Length));
            entry = new SpoolEntry(cached.Ordinal, cached.Id, cached.Type, cached.Priority, cached.RecordedAt, cached.Json);
            receipt = Loaded(cached.Segment);
            return true;
        }

        while (_cursorSegment is not null)
        {
            if (_cursorOffset >= _cursorSegment.Length)
            {
                if (_cursorSegment == _writer.Active)
                {
                    _tailComplete = true; // caught up with the writer: new records come from the tail again
                    break;
                }

                MoveCursor(NextSegment(_cursorSegment), 0);
                continue;
            }

            SpoolSegment segment = _cursorSegment;
            if (!TryReadAt(segment, _cursorOffset, out entry, out int size))
            {
                // Unreadable here although it was checked or written by us: keep the good part, count the rest.
                CorruptBytes += segment.Length - _cursorOffset;
                segment.Length = _cursorOffset;
                continue;
            }

            MoveCursor(segment, _cursorOffset + size);
            receipt = Loaded(segment);
            return true;
        }

        entry = default;
        receipt = 0;
        return false;
    }

    public void Acknowledge(long receipt)
    {
        foreach (SpoolSegment segment in _segments)
        {
            if (segment.Number == receipt)
            {
                segment.LoadedUnresolved--;
                DeleteIfDone(segment);
                return;
            }
        }

        // Its segment is gone already (removed by a cap while the record was with the uploader).
    }

    public IReadOnlyList<SpoolDrop> Trim(DateTimeOffset now, long incomingBytes)
    {
        _dropped.Clear();
        List<(long Ordinal, Guid Id, string Type, DateTimeOffset RecordedAt, byte[] Json)>? keep = null;
        long oldestAllowed = (now - _options.MaxSpoolAge).ToUnixTimeMilliseconds();
        while (_segments.Count > 1)
        {
            SpoolSegment oldest = _segments[0];
            string? reason = TotalBytes + incomingBytes > _options.MaxSpoolBytes ? DropReasons.SpoolFull
                : oldest.NewestRecordUnixMs < oldestAllowed ? DropReasons.SpoolAge
                : null;
            if (reason is null)
            {
                break;
            }

            foreach ((long ordinal, Guid id, string type, Priority priority, DateTimeOffset recordedAt, byte[] json) in TakeUnread(oldest))
            {
                if (priority == Priority.Immediate)
                {
                    (keep ??= []).Add((ordinal, id, type, recordedAt, json)); // immediate events go last: appended again below
                }
                else
                {
                    _dropped.Add(new SpoolDrop(ordinal, reason));
                }
            }

            Delete(oldest); // records of it already read stay with the uploader (in memory) and are still uploaded
        }

        foreach ((long ordinal, Guid id, string type, DateTimeOffset recordedAt, byte[] json) in keep ?? [])
        {
            var entry = new SpoolEntry(ordinal, id, type, Priority.Immediate, recordedAt, json);
            if (Append(entry) == 0)
            {
                _writer.GiveBack(entry); // no segment to write it to: the caller keeps it in memory
            }
        }

        return _dropped;
    }

    public void Dispose()
    {
        try
        {
            _writer.Dispose();
            SpoolSegment active = _writer.Active;
            if (active.Length == 0 || (active.LoadedUnresolved == 0 && _cursorSegment == active && _cursorOffset >= active.Length && _tail.Count == 0))
            {
                File.Delete(active.Path); // a clean shutdown with everything delivered leaves no segment behind
            }
        }
        catch (IOException)
        {
            // The segment stays; the next start replays what it holds (and cuts what a failed write left).
        }
        finally
        {
            _lent?.Release();
            _lent = null;
            _tail.Clear();
            _reader.Dispose();
            _lock.Dispose();
            _committed.Close(); // nobody waits for a commit that will not come
        }
    }

    public void Publish(long through) => _committed.Publish(through);

    /// <summary>
    /// After a failed write: its records left the spool (handed back), so copies of them in the tail must not be read;
    /// the tail is dropped and what was written is read back from the file.
    /// </summary>
    private void ForgetReturnedRecords()
    {
        if (_writer.FailedWrites == _failedWritesSeen)
        {
            return;
        }

        _failedWritesSeen = _writer.FailedWrites;
        if (_tailComplete)
        {
            _tail.Clear();
            _tailComplete = false;
        }
    }

    /// <summary>The writer started a new segment: list it, and delete the previous one if everything in it is done.</summary>
    private void Started(SpoolSegment previous, SpoolSegment next)
    {
        _segments.Add(next);
        DeleteIfDone(previous);
    }

    private long Loaded(SpoolSegment segment)
    {
        segment.LoadedUnresolved++;
        return segment.Number;
    }

    /// <summary>Takes the records of <paramref name="segment"/> that the cursor has not passed (copies), and moves the cursor beyond it.</summary>
    private List<(long, Guid, string, Priority, DateTimeOffset, byte[])> TakeUnread(SpoolSegment segment)
    {
        var unread = new List<(long, Guid, string, Priority, DateTimeOffset, byte[])>();
        if (_tailComplete)
        {
            while (_tail.TryPeek(out TailRecord? cached) && cached!.Segment == segment)
            {
                TailRecord taken = _tail.Take();
                unread.Add((taken.Ordinal, taken.Id, taken.Type, taken.Priority, taken.RecordedAt, taken.Json.ToArray()));
                taken.Release();
            }
        }
        else if (_cursorSegment == segment)
        {
            while (_cursorOffset < segment.Length && TryReadAt(segment, _cursorOffset, out SpoolEntry entry, out int size))
            {
                unread.Add((entry.Ordinal, entry.Id, entry.Type, entry.Priority, entry.RecordedAt, entry.Json.ToArray()));
                _cursorOffset += size;
            }
        }

        if (_cursorSegment == segment)
        {
            _cursorSegment = NextSegment(segment);
            _cursorOffset = 0;
        }

        return unread;
    }

    private bool TryReadAt(SpoolSegment segment, long offset, out SpoolEntry entry, out int size)
    {
        if (!_reader.TryRead(segment, offset, out entry, out size))
        {
            return false;
        }

        if (segment.FromEarlierProcess)
        {
            // Records of an earlier process are numbered in the order they are read: 1…ReplayedCount.
            entry = new SpoolEntry(++_replayOrdinal, entry.Id, entry.Type, entry.Priority, entry.RecordedAt, entry.Json);
        }

        return true;
    }

    private void MoveCursor(SpoolSegment? segment, long offset)
    {
        SpoolSegment? left = _cursorSegment;
        _cursorSegment = segment;
        _cursorOffset = offset;
        if (left is not null && left != segment)
        {
            DeleteIfDone(left);
        }
    }

    private SpoolSegment? NextSegment(SpoolSegment segment)
    {
        int index = _segments.IndexOf(segment);
        return index >= 0 && index + 1 < _segments.Count ? _segments[index + 1] : _segments.FirstOrDefault(s => s.Number > segment.Number);
    }

    private void DeleteIfDone(SpoolSegment segment)
    {
        bool cursorPast = _cursorSegment is null || segment.Number < _cursorSegment.Number;
        if (segment.Deleted || segment == _writer.Active || segment.LoadedUnresolved > 0 || !cursorPast)
        {
            return;
        }

        Delete(segment);
    }

    private void Delete(SpoolSegment segment)
    {
        _reader.Forget(segment);
        try
        {
            File.Delete(segment.Path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Left on disk: the next start replays it (the collector stores nothing twice). Throwing here would fail the
            // append or acknowledgement that got here, and with it the uploader's loop.
        }

        segment.Deleted = true;
        _segments.Remove(segment);
    }
}
