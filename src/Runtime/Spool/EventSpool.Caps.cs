using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>The spool's caps (<c>MaxSpoolBytes</c>, <c>MaxSpoolAge</c>) and its logging.</summary>
internal sealed partial class EventSpool
{
    /// <summary>
    /// Removes the oldest segments while the spool is over its byte cap, or their newest record is older than the
    /// age cap. Returns the records of those segments that had not reached the lanes yet: the pipeline drops the
    /// batch events (counted) and appends the immediate ones again, so batch events go first.
    /// </summary>
    /// <param name="now">The current time (for the age cap).</param>
    /// <param name="incomingBytes">Bytes about to be appended: room is made for them first, so the cap is never passed.</param>
    public List<(Upload.QueuedEvent Event, string Reason)>? EnforceCaps(DateTimeOffset now, long incomingBytes = 0)
    {
        List<(Upload.QueuedEvent, string)>? removed = null;
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

            foreach (Upload.QueuedEvent unloaded in TakeUnloaded(oldest))
            {
                (removed ??= []).Add((unloaded, reason));
            }

            // Records of it already in the lanes stay there (in memory) and are still uploaded.
            Delete(oldest);
        }

        return removed;
    }

    /// <summary>Takes the records of <paramref name="segment"/> that the cursor has not passed, and moves the cursor beyond it.</summary>
    private List<Upload.QueuedEvent> TakeUnloaded(SpoolSegment segment)
    {
        var unloaded = new List<Upload.QueuedEvent>();
        if (_tailComplete)
        {
            while (_tail.TryPeek(out Upload.QueuedEvent? cached) && cached.Segment == segment)
            {
                unloaded.Add(_tail.Dequeue());
            }
        }
        else if (_cursorSegment == segment)
        {
            while (_cursorOffset < segment.Length && ReadAt(segment, _cursorOffset, out int size) is { } item)
            {
                unloaded.Add(item);
                _cursorOffset += size;
            }
        }

        if (_cursorSegment == segment)
        {
            _cursorSegment = NextSegment(segment);
            _cursorOffset = 0;
        }

        foreach (Upload.QueuedEvent item in unloaded)
        {
            item.Segment = null; // it no longer lives in a file
        }

        return unloaded;
    }

    /// <summary>After a failed write or flush: start a new segment, so nothing more is appended after a torn record.</summary>
    public void StartNewSegmentAfterFailure()
    {
        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
            // The buffered bytes that failed are gone; recovery at the next start cuts the torn record off.
        }

        _unflushedRecords = 0;
        var next = new SpoolSegment(_active.Number + 1, Path.Combine(_directory, SpoolSegment.FileName(_active.Number + 1)), fromEarlierProcess: false);
        _writer = CreateSegmentFile(next.Path);
        _active = next;
        _segments.Add(next);
    }
}

/// <summary>The spool's diagnostics.</summary>
internal static partial class SpoolLog
{
    [LoggerMessage(20, LogLevel.Warning, "The spool in {Directory} had {Bytes} bytes of torn or corrupt records (an earlier process was killed or lost power while writing); the good records before them are replayed.")]
    public static partial void CorruptTail(ILogger logger, long bytes, string directory);

    [LoggerMessage(21, LogLevel.Error, "Writing to the spool failed; events stay in memory until they are uploaded. Further failures are counted on 'instrumentation.events.dropped' (reason spool_write_failed) when events cannot be kept.")]
    public static partial void WriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(22, LogLevel.Information, "Replaying {Count} events left in the spool {Directory} by an earlier process.")]
    public static partial void Replaying(ILogger logger, long count, string directory);
}
