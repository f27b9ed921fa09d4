using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>
/// The write side of the spool: the active segment, the records appended to it and not yet written, and what a failed
/// write leaves. Owned by <see cref="EventSpool"/>, which reads back what this wrote.
/// </summary>
/// <remarks>
/// Records wait in a buffer here and go to the file in one positioned write per commit (or when the buffer is full):
/// the active segment's bytes up to <see cref="Written"/> are on disk, whole records only; the rest is in the buffer
/// and is never read. A write can fail after part of it reached the disk (a full disk, a file size limit, an I/O
/// error). The file is then cut back to <see cref="Written"/>, so neither a torn record nor a whole record of the
/// failed write stays behind, to be read now or replayed after a restart; the records of the failed write leave the
/// spool and are handed back (<see cref="TryTakeReturned"/>): the caller keeps their events in memory. Records
/// appended afterwards go into the buffer as usual and the next commit writes them at the same place, so a disk that
/// clears is used again at once. When the file cannot even be cut back, the first byte after <see cref="Written"/> is
/// overwritten with a zero length (which ends the segment for recovery), the segment is sealed there, and the next
/// record starts a new segment file; so does the next record after EFBIG (this file can grow no more, a new one can).
/// A segment closed that way is forced to disk first (Interval, Always); when that fsync, or the one at a roll-over,
/// fails, the next commit reports <see cref="CommitResult.Failed"/>. While writes fail, the buffer is tried as soon as
/// it holds the memory caps' worth of records, so no more than that waits in it.
/// </remarks>
internal sealed class SpoolWriter : IDisposable
{
    /// <summary>Appended records are written once this many bytes wait (and at every commit).</summary>
    private const int WriteThreshold = 64 * 1024;

    private readonly LogManagerOptions _options;
    private readonly string _directory;
    private readonly Func<string, ISegmentFile> _createFile;
    private readonly Action<SpoolSegment, SpoolSegment> _started;
    private readonly ILogger _logger;
    private readonly Queue<ReturnedRecord> _returned = new();
    private readonly List<string> _pendingTypes = [];
    private ISegmentFile? _file;
    private byte[] _pending = new byte[WriteThreshold];
    private int _pendingBytes;
    private long _nextNumber;
    private int _unsyncedRecords;
    private DateTimeOffset _lastSync;
    private bool _failing;
    private bool _syncFailedSinceCommit;

    /// <summary>Creates the first segment file, numbered <paramref name="number"/>.</summary>
    /// <param name="options">The spool's options.</param>
    /// <param name="directory">The spool directory.</param>
    /// <param name="number">The first segment's number (higher than any left by an earlier process).</param>
    /// <param name="createFile">Creates a segment file for writing.</param>
    /// <param name="now">The time now (for the flush interval).</param>
    /// <param name="logger">Where failures are logged.</param>
    /// <param name="started">Called with the previous and the new active segment each time a new segment starts.</param>
    /// <exception cref="IOException">The first segment file cannot be created.</exception>
    public SpoolWriter(LogManagerOptions options, string directory, long number, Func<string, ISegmentFile> createFile, Action<SpoolSegment, SpoolSegment> started, DateTimeOffset now, ILogger logger)
    {
        _options = options;
        _directory = directory;
        _createFile = createFile;
        _started = started;
        _lastSync = now;
        _logger = logger;
        _nextNumber = number + 1;
        Active = new SpoolSegment(number, SegmentPath(number), fromEarlierProcess: false);
        _file = createFile(Active.Path);
    }

    /// <summary>The segment records are appended to; its <see cref="SpoolSegment.Length"/> counts the buffered records too.</summary>
    public SpoolSegment Active { get; private set; }

    /// <summary>Bytes of <see cref="Active"/> on disk (whole records); the records after them are in the buffer.</summary>
    public long Written { get; private set; }

    /// <summary>Appended records wait in the buffer.</summary>
    public bool HasPending => _pendingBytes > 0;

    /// <summary>How many writes failed so far (each one handed its records back).</summary>
    public long FailedWrites { get; private set; }

    public DateTimeOffset? NextSyncDue =>
        _options.SpoolFlushPolicy == SpoolFlushPolicy.Interval && _unsyncedRecords > 0 ? _lastSync + _options.SpoolFlushInterval : null;

    /// <summary>Buffers a record at the end of <see cref="Active"/> (writing the buffer first when it is full).</summary>
    /// <returns>False when there is no segment to append to (sealed, and a new file cannot be created): the record is not taken.</returns>
    public bool TryAppend(in SpoolEntry entry, out SpoolSegment segment, out long offset)
    {
        int size = SpoolRecord.SizeOf(entry.Json.Length);
        if (_pendingBytes > 0 && (_pendingBytes + size > WriteThreshold || (_failing && OverMemoryCaps(size))))
        {
            TryWritePending(); // when it fails, those records are handed back; this one still goes in the buffer
        }

        if (_file is null && !TryStartSegment())
        {
            segment = Active;
            offset = 0;
            return false;
        }

        if (_pending.Length < _pendingBytes + size)
        {
            Array.Resize(ref _pending, Math.Max(_pendingBytes + size, _pending.Length * 2));
        }

        SpoolRecord.Write(_pending.AsSpan(_pendingBytes), entry.Priority, entry.Id, entry.RecordedAt.ToUnixTimeMilliseconds(), entry.Ordinal, entry.Json);
        _pendingTypes.Add(entry.Type);
        _pendingBytes += size;
        segment = Active;
        offset = Active.Length;
        Active.Length += size;
        Active.NewestRecordUnixMs = entry.RecordedAt.ToUnixTimeMilliseconds();
        return true;
    }

    /// <summary>Writes the buffered records at <see cref="Written"/>.</summary>
    /// <returns>False when the write failed: the file is cut back and those records are handed back.</returns>
    public bool TryWritePending()
    {
        if (_pendingBytes == 0)
        {
            return true;
        }

        try
        {
            _file!.Write(_pending.AsSpan(0, _pendingBytes), Written);
        }
        catch (IOException exception)
        {
            WriteFailed(exception);
            return false;
        }

        Written += _pendingBytes;
        _unsyncedRecords += _pendingTypes.Count;
        _pendingBytes = 0;
        _pendingTypes.Clear();
        if (_failing)
        {
            _failing = false;
            SpoolLog.WritesResumed(_logger);
        }

        return true;
    }

    /// <summary>Writes what is buffered and, as the flush policy says, forces it to disk.</summary>
    public CommitResult Commit(DateTimeOffset now)
    {
        if (!TryWritePending())
        {
            return CommitResult.Failed;
        }

        if (_syncFailedSinceCommit)
        {
            // An fsync outside a commit failed since the last one (at a roll-over, or of a segment sealed after a failed
            // write): what was written before it is not confirmed, and a later fsync that succeeds does not say it is.
            _syncFailedSinceCommit = false;
            _unsyncedRecords = 0;
            return CommitResult.Failed;
        }

        bool sync = _file is not null && _unsyncedRecords > 0 && _options.SpoolFlushPolicy switch
        {
            SpoolFlushPolicy.Always => true,
            SpoolFlushPolicy.Interval => now >= _lastSync + _options.SpoolFlushInterval,
            _ => false,
        };
        if (sync)
        {
            try
            {
                _file!.Sync();
            }
            catch (IOException exception)
            {
                // Written, so still read and uploaded from the file, but the disk did not confirm it: not durable.
                Failing(exception, syncOnly: true);
                _unsyncedRecords = 0;
                return CommitResult.Failed;
            }

            _lastSync = now;
        }

        bool durable = _options.SpoolFlushPolicy == SpoolFlushPolicy.None || sync || _unsyncedRecords == 0;
        if (durable)
        {
            _unsyncedRecords = 0;
        }

        return durable ? CommitResult.Durable : CommitResult.Pending;
    }

    /// <summary>Ends <see cref="Active"/> (written and forced to disk) and starts the next segment; stays when either fails.</summary>
    public void Rotate()
    {
        if (_failing && _pendingBytes > 0)
        {
            return; // a failing disk is tried once per commit, not for every record
        }

        if (!TryWritePending() || _file is null)
        {
            return; // the records went back; the next record starts a new segment when this one is sealed
        }

        ISegmentFile next;
        long number = _nextNumber++;
        bool synced = false;
        try
        {
            _file.Sync();
            synced = true;
            next = _createFile(SegmentPath(number));
        }
        catch (IOException exception)
        {
            Failing(exception, syncOnly: !synced); // the segment grows past its size instead; nothing is lost
            _syncFailedSinceCommit |= !synced && _options.SpoolFlushPolicy != SpoolFlushPolicy.None;
            return;
        }

        _file.Dispose();
        _file = next;
        Start(number);
    }

    /// <summary>Hands back a record that could not be appended (the caller keeps its event in memory).</summary>
    public void GiveBack(in SpoolEntry entry) =>
        _returned.Enqueue(new ReturnedRecord(entry.Ordinal, entry.Id, entry.Type, entry.Priority, entry.RecordedAt, entry.Json.ToArray()));

    /// <summary>Takes a record handed back after a failed write; its JSON is valid until the next call.</summary>
    public bool TryTakeReturned(out SpoolEntry entry)
    {
        if (!_returned.TryDequeue(out ReturnedRecord? record))
        {
            entry = default;
            return false;
        }

        entry = new SpoolEntry(record.Ordinal, record.Id, record.Type, record.Priority, record.RecordedAt, record.Json);
        return true;
    }

    /// <summary>Writes what is buffered, forces it to disk and closes the file.</summary>
    public void Dispose()
    {
        TryWritePending();
        if (_file is null)
        {
            return;
        }

        try
        {
            _file.Sync();
        }
        catch (IOException exception)
        {
            Failing(exception, syncOnly: true);
        }

        _file.Dispose();
        _file = null;
    }

    private void WriteFailed(IOException exception)
    {
        Failing(exception);
        FailedWrites++;
        try
        {
            _file!.Truncate(Written); // what reached the disk of the failed write goes: no torn record, no duplicate
        }
        catch (IOException)
        {
            Seal();
        }

        if (_file is not null && exception is SegmentTooLargeException && Written > 0)
        {
            Close(); // this file can grow no more (a file size limit), a new one can: the next record starts it
        }

        int offset = 0;
        foreach (string type in _pendingTypes)
        {
            int size = SpoolRecord.TryRead(_pending.AsSpan(offset, _pendingBytes - offset), out Priority priority, out Guid id, out long recordedAt, out long ordinal, out ReadOnlySpan<byte> json);
            _returned.Enqueue(new ReturnedRecord(ordinal, id, type, priority, DateTimeOffset.FromUnixTimeMilliseconds(recordedAt), json.ToArray()));
            offset += size;
        }

        Active.Length = Written;
        _pendingBytes = 0;
        _pendingTypes.Clear();
    }

    /// <summary>The file cannot be cut back: mark its end for recovery (a zero length is no record) and write no more to it.</summary>
    private void Seal()
    {
        try
        {
            _file!.Write(new byte[SpoolRecord.HeaderBytes], Written); // overwrites bytes already there: needs no new space
        }
        catch (IOException)
        {
            // Nothing more can be done on this disk; docs/reliability.md says what recovery may then replay.
        }

        Close();
    }

    /// <summary>Writes no more to the active segment: the next record starts a new segment file.</summary>
    private void Close()
    {
        if (_options.SpoolFlushPolicy != SpoolFlushPolicy.None && _unsyncedRecords > 0)
        {
            // Its records are in it for good: force them to disk now, or the next commit (which syncs only the new
            // segment) would call them durable.
            try
            {
                _file!.Sync();
            }
            catch (IOException)
            {
                _syncFailedSinceCommit = true;
            }
        }

        _file!.Dispose();
        _file = null;
        _unsyncedRecords = 0; // forced to disk above, or reported by the next commit as not durable
    }

    /// <summary>
    /// While writes fail, the buffer holds no more than the memory caps allow: its records come back to memory at the
    /// next failed write, so they are tried (and handed back, where the caps apply) before there are more of them.
    /// </summary>
    private bool OverMemoryCaps(int size) =>
        _pendingTypes.Count >= _options.MaxQueuedEvents || _pendingBytes + size > _options.MaxQueuedBytes;

    private bool TryStartSegment()
    {
        long number = _nextNumber++;
        try
        {
            _file = _createFile(SegmentPath(number));
        }
        catch (IOException exception)
        {
            Failing(exception);
            return false;
        }

        Start(number);
        return true;
    }

    private void Start(long number)
    {
        SpoolSegment previous = Active;
        Active = new SpoolSegment(number, SegmentPath(number), fromEarlierProcess: false);
        Written = 0;
        _started(previous, Active);
    }

    /// <summary>Logs the first failure of a run of failures (the next successful write logs that writes resumed).</summary>
    /// <param name="exception">The failure.</param>
    /// <param name="syncOnly">Only an fsync failed: the records are written and stay in the spool (no event went back to memory).</param>
    private void Failing(IOException exception, bool syncOnly = false)
    {
        if (!_failing)
        {
            _failing = true;
            if (syncOnly)
            {
                SpoolLog.SyncFailed(_logger, exception);
            }
            else
            {
                SpoolLog.WriteFailed(_logger, exception);
            }
        }
    }

    private string SegmentPath(long number) => Path.Combine(_directory, SpoolSegment.FileName(number));
}

/// <summary>A record handed back by the spool after its write failed (a copy: the spool no longer holds it).</summary>
internal sealed record ReturnedRecord(long Ordinal, Guid Id, string Type, Priority Priority, DateTimeOffset RecordedAt, byte[] Json);
