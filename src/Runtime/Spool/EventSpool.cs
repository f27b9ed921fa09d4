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
/// records read from it and not yet acknowledged.
/// </remarks>
internal sealed class EventSpool : IDurableQueue
{
    private readonly LogManagerOptions _options;
    private readonly string _directory;
    private readonly FileStream _lock;
    private readonly ILogger _logger;
    private readonly List<SpoolSegment> _segments;
    private readonly SpoolTail _tail = new();
    private readonly List<SpoolDrop> _dropped = [];
    private readonly CommitWatermark _committed = new();
    private FileStream _writer;
    private SpoolSegment _active;
    private byte[] _buffer = new byte[8192];
    private TailRecord? _lent;
    private SpoolSegment? _cursorSegment;
    private long _cursorOffset;
    private bool _tailComplete;
    private long _replayOrdinal;
    private readonly SpoolReader _reader = new();
    private int _unflushedRecords;
    private int _unsyncedRecords;
    private DateTimeOffset _lastSync;
    private bool _loggedFailure;

    /// <summary>Checks what an earlier process left in the (locked) directory and starts a new segment; use <see cref="SpoolDirectory.Open"/>.</summary>
    internal EventSpool(LogManagerOptions options, string directory, FileStream lockFile, DateTimeOffset now, ILogger logger)
    {
        _options = options;
        _directory = directory;
        _lock = lockFile;
        _lastSync = now;
        _logger = logger;
        (List<SpoolSegment> segments, long replayed, long corrupt, long lastNumber) = SpoolRecovery.Recover(directory, logger);
        _segments = segments;
        ReplayedCount = replayed;
        CorruptBytes = corrupt;
        _active = new SpoolSegment(lastNumber + 1, SegmentPath(lastNumber + 1), fromEarlierProcess: false);
        _writer = CreateSegmentFile(_active.Path);
        _segments.Add(_active);
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

    public DateTimeOffset? NextSyncDue =>
        _options.SpoolFlushPolicy == SpoolFlushPolicy.Interval && _unsyncedRecords > 0 ? _lastSync + _options.SpoolFlushInterval : null;

    public long CommittedThrough => _committed.Value;

    public long Append(in SpoolEntry entry)
    {
        try
        {
            int size = SpoolRecord.SizeOf(entry.Json.Length);
            if (_active.Length > 0 && _active.Length + size > _options.SpoolSegmentBytes)
            {
                Rotate();
            }

            if (_buffer.Length < size)
            {
                _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
            }

            SpoolRecord.Write(_buffer, entry.Priority, entry.Id, entry.RecordedAt.ToUnixTimeMilliseconds(), entry.Ordinal, entry.Json);
            _writer.Write(_buffer, 0, size);
            long offset = _active.Length;
            _active.Length += size;
            _active.NewestRecordUnixMs = entry.RecordedAt.ToUnixTimeMilliseconds();
            _unflushedRecords++;
            _unsyncedRecords++;
            if (_tailComplete && !_tail.TryAdd(entry, _active, offset))
            {
                _tailComplete = false; // the uploader is behind: read these records back from disk later
                _tail.Clear();
            }

            return entry.Ordinal;
        }
        catch (IOException exception)
        {
            Failed(exception);
            return 0;
        }
    }

    public CommitResult Commit(DateTimeOffset now)
    {
        bool durable;
        try
        {
            if (_unflushedRecords > 0)
            {
                _writer.Flush();
                _unflushedRecords = 0;
            }

            bool sync = _unsyncedRecords > 0 && _options.SpoolFlushPolicy switch
            {
                SpoolFlushPolicy.Always => true,
                SpoolFlushPolicy.Interval => now >= _lastSync + _options.SpoolFlushInterval,
                _ => false,
            };
            if (sync)
            {
                _writer.Flush(flushToDisk: true);
                _lastSync = now;
            }

            durable = _options.SpoolFlushPolicy == SpoolFlushPolicy.None || sync || _unsyncedRecords == 0;
            if (durable)
            {
                _unsyncedRecords = 0;
            }
        }
        catch (IOException exception)
        {
            // The records of this commit did not reach the disk: they are uploaded from memory, but not durable.
            Failed(exception);
            _unsyncedRecords = 0;
            return CommitResult.Failed;
        }

        return durable ? CommitResult.Durable : CommitResult.Pending;
    }

    public void WaitForCommit(long commitNumber) => _committed.WaitFor(commitNumber);

    public bool TryReadNext(out SpoolEntry entry, out long receipt)
    {
        _lent?.Release();
        _lent = null;
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
                if (_cursorSegment == _active)
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
            string? reason = TotalBytes + incomingBytes > _options.MaxSpoolBytes ? "spool_full"
                : oldest.NewestRecordUnixMs < oldestAllowed ? "spool_age"
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
            if (Append(new SpoolEntry(ordinal, id, type, Priority.Immediate, recordedAt, json)) == 0)
            {
                _dropped.Add(new SpoolDrop(ordinal, "spool_full")); // the disk refuses it: nowhere left to keep it
            }
        }

        return _dropped;
    }

    public void Dispose()
    {
        try
        {
            _writer.Flush(flushToDisk: true);
            _writer.Dispose();
            if (_active.Length == 0 || (_active.LoadedUnresolved == 0 && _cursorSegment == _active && _cursorOffset >= _active.Length && _tail.Count == 0))
            {
                File.Delete(_active.Path); // a clean shutdown with everything delivered leaves no segment behind
            }
        }
        catch (IOException exception)
        {
            Failed(exception);
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

    /// <summary>After a failed write or flush: log once, and start a new segment, so nothing more is appended after a torn record.</summary>
    private void Failed(IOException exception)
    {
        if (!_loggedFailure)
        {
            _loggedFailure = true;
            SpoolLog.WriteFailed(_logger, exception);
        }

        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
            // The buffered bytes that failed are gone; recovery at the next start cuts the torn record off.
        }

        _unflushedRecords = 0;
        try
        {
            var next = new SpoolSegment(_active.Number + 1, SegmentPath(_active.Number + 1), fromEarlierProcess: false);
            _writer = CreateSegmentFile(next.Path);
            _active = next;
            _segments.Add(next);
        }
        catch (IOException)
        {
            // The disk refuses even a new file: the next append fails too and its event stays in memory.
        }
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
        if (segment == _active && _unflushedRecords > 0)
        {
            _writer.Flush(); // the reader sees the file, not the writer's buffer
            _unflushedRecords = 0;
        }

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
        if (segment.Deleted || segment == _active || segment.LoadedUnresolved > 0 || !cursorPast)
        {
            return;
        }

        Delete(segment);
    }

    private void Delete(SpoolSegment segment)
    {
        _reader.Forget(segment);
        File.Delete(segment.Path);
        segment.Deleted = true;
        _segments.Remove(segment);
    }

    private void Rotate()
    {
        _writer.Flush(flushToDisk: true);
        _writer.Dispose();
        _unflushedRecords = 0;
        var next = new SpoolSegment(_active.Number + 1, SegmentPath(_active.Number + 1), fromEarlierProcess: false);
        _writer = CreateSegmentFile(next.Path);
        SpoolSegment previous = _active;
        _active = next;
        _segments.Add(next);
        DeleteIfDone(previous);
    }

    private string SegmentPath(long number) => Path.Combine(_directory, SpoolSegment.FileName(number));

    private static FileStream CreateSegmentFile(string path) =>
        new(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 64 * 1024);
}
