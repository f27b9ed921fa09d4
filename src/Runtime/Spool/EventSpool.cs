using System.Text.Json;
using Instrumentation.Upload;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>
/// The spool stage of durable mode: every event is appended to a segment file before the uploader takes it, and a
/// segment is deleted only when every event in it has been delivered or dead-lettered. At start, what an earlier
/// process left is replayed oldest first; a torn or corrupt tail is cut off and counted.
/// </summary>
/// <remarks>
/// One cursor marks the oldest record not yet handed to the upload lanes. Records appended while the lanes keep up
/// are also kept in a small in-memory tail, so they are not read back from disk; when the lanes fall behind (an
/// outage), the tail is dropped and records are read from the files as the lanes drain, so memory stays bounded while
/// the spool grows to its cap. Used only by the pipeline's loop, one thread at a time.
/// </remarks>
internal sealed partial class EventSpool : IDisposable
{
    private const string LockFileName = "spool.lock";
    private const int TailCacheLimit = 4096;

    private readonly LogManagerOptions _options;
    private readonly string _directory;
    private readonly FileStream _lock;
    private readonly List<SpoolSegment> _segments = [];
    private readonly Queue<QueuedEvent> _tail = new();
    private FileStream _writer;
    private SpoolSegment _active;
    private byte[] _buffer = new byte[8192];
    private SpoolSegment? _cursorSegment;
    private long _cursorOffset;
    private bool _tailComplete;
    private long _replayOrdinal;
    private FileStream? _reader;
    private SpoolSegment? _readerSegment;
    private int _unflushedRecords;
    private int _unsyncedRecords;
    private DateTimeOffset _lastSync;

    private EventSpool(LogManagerOptions options, string directory, FileStream lockFile, DateTimeOffset now)
    {
        _options = options;
        _directory = directory;
        _lock = lockFile;
        _lastSync = now;
        (_active, _writer) = (null!, null!);
    }

    /// <summary>Events found in the spool at start (replayed with their ids).</summary>
    public long ReplayedCount { get; private set; }

    /// <summary>Bytes of torn or corrupt records cut off at start.</summary>
    public long CorruptBytes { get; private set; }

    /// <summary>Bytes of records in the spool now.</summary>
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

    /// <summary>When an Interval sync is due (unsynced records exist), else null.</summary>
    public DateTimeOffset? NextSyncDue =>
        _options.SpoolFlushPolicy == SpoolFlushPolicy.Interval && _unsyncedRecords > 0 ? _lastSync + _options.SpoolFlushInterval : null;

    /// <summary>Opens (creating it when missing) and locks the directory, checks and truncates what an earlier process left, and starts a new segment.</summary>
    /// <exception cref="InvalidOperationException">The directory cannot be created or used, or another process holds it.</exception>
    public static EventSpool Open(LogManagerOptions options, DateTimeOffset now, ILogger logger)
    {
        string directory = Path.GetFullPath(options.SpoolDirectory!);
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidOperationException($"The spool directory '{directory}' cannot be created or used: {exception.Message} Set SpoolDirectory to a writable folder.", exception);
        }

        FileStream lockFile;
        try
        {
            // FileShare.None: a second process (or manager) pointing here fails instead of interleaving writes.
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException exception)
        {
            throw new InvalidOperationException($"The spool directory '{directory}' is in use by another process or LogManager. Give each process its own SpoolDirectory (e.g. a sub-directory per process).", exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new InvalidOperationException($"The spool directory '{directory}' is not writable: {exception.Message}", exception);
        }

        var spool = new EventSpool(options, directory, lockFile, now);
        try
        {
            spool.Recover(logger);
            return spool;
        }
        catch
        {
            spool.Dispose();
            throw;
        }
    }

    /// <summary>Appends a serialized event. Returns false (and the caller keeps it in memory) when the write fails.</summary>
    public bool Append(QueuedEvent item, DateTimeOffset recordedAt)
    {
        int size = SpoolRecord.SizeOf(item.Json.Length);
        if (_active.Length > 0 && _active.Length + size > _options.SpoolSegmentBytes)
        {
            Rotate();
        }

        if (_buffer.Length < size)
        {
            _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
        }

        SpoolRecord.Write(_buffer, item.Priority, item.Id, recordedAt.ToUnixTimeMilliseconds(), item.Ordinal, item.Json.Span);
        _writer.Write(_buffer, 0, size);
        item.Segment = _active;
        item.SpoolOffset = _active.Length;
        _active.Length += size;
        _active.NewestRecordUnixMs = recordedAt.ToUnixTimeMilliseconds();
        _unflushedRecords++;
        _unsyncedRecords++;
        if (_tailComplete)
        {
            if (_tail.Count < TailCacheLimit)
            {
                _tail.Enqueue(item);
            }
            else
            {
                _tailComplete = false; // the lanes are behind: read these records back from disk later
                _tail.Clear();
            }
        }

        return true;
    }

    /// <summary>Writes appended records to the OS and, as the policy says, forces them to disk.</summary>
    /// <returns>Whether the records appended so far are now durable (per the policy).</returns>
    public bool Commit(DateTimeOffset now)
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

        bool durable = _options.SpoolFlushPolicy == SpoolFlushPolicy.None || sync || _unsyncedRecords == 0;
        if (durable)
        {
            _unsyncedRecords = 0;
        }

        return durable;
    }

    /// <summary>Hands over the oldest record not yet in the lanes, or null when all are.</summary>
    public QueuedEvent? TakeNext()
    {
        if (_tailComplete)
        {
            if (!_tail.TryDequeue(out QueuedEvent? cached))
            {
                return null;
            }

            MoveCursor(cached.Segment!, cached.SpoolOffset + SpoolRecord.SizeOf(cached.Json.Length));
            cached.Segment!.LoadedUnresolved++;
            return cached;
        }

        while (_cursorSegment is not null)
        {
            if (_cursorOffset >= _cursorSegment.Length)
            {
                if (_cursorSegment == _active)
                {
                    _tailComplete = true; // caught up with the writer: new records come from the tail again
                    return null;
                }

                MoveCursor(NextSegment(_cursorSegment), 0);
                continue;
            }

            QueuedEvent? item = ReadAt(_cursorSegment, _cursorOffset, out int size);
            if (item is null)
            {
                // Unreadable here although it was checked or written by us: keep the good part, count the rest.
                CorruptBytes += _cursorSegment.Length - _cursorOffset;
                _cursorSegment.Length = _cursorOffset;
                continue;
            }

            MoveCursor(_cursorSegment, _cursorOffset + size);
            item.Segment!.LoadedUnresolved++;
            return item;
        }

        return null;
    }

    /// <summary>An event from the spool was delivered or dead-lettered: its segment may now go.</summary>
    public void Resolved(QueuedEvent item)
    {
        if (item.Segment is { } segment)
        {
            segment.LoadedUnresolved--;
            DeleteIfDone(segment);
        }
    }

    public void Dispose()
    {
        if (_writer is not null)
        {
            _writer.Flush(flushToDisk: true);
            _writer.Dispose();
            if (_active.Length == 0 || (_active.LoadedUnresolved == 0 && _cursorSegment == _active && _cursorOffset >= _active.Length && !_tail.Any()))
            {
                File.Delete(_active.Path); // a clean shutdown with everything delivered leaves no segment behind
            }
        }

        _reader?.Dispose();
        _lock.Dispose();
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
        if (_readerSegment == segment)
        {
            _reader!.Dispose();
            _reader = null;
            _readerSegment = null;
        }

        File.Delete(segment.Path);
        segment.Deleted = true;
        _segments.Remove(segment);
    }

    private void Rotate()
    {
        _writer.Flush(flushToDisk: true);
        _writer.Dispose();
        _unflushedRecords = 0;
        var next = new SpoolSegment(_active.Number + 1, Path.Combine(_directory, SpoolSegment.FileName(_active.Number + 1)), fromEarlierProcess: false);
        _writer = CreateSegmentFile(next.Path);
        SpoolSegment previous = _active;
        _active = next;
        _segments.Add(next);
        DeleteIfDone(previous);
    }

    private static FileStream CreateSegmentFile(string path) =>
        new(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 64 * 1024);
}
