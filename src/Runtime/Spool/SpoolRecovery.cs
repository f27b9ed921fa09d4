using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>What an earlier process left in a spool directory, checked at open: good records kept, torn tails cut off.</summary>
internal static class SpoolRecovery
{
    /// <summary>Scans every segment; truncates a torn or corrupt tail, deletes empty files.</summary>
    /// <returns>The segments with records (oldest first), their record count, the bytes cut off, and the highest segment number seen.</returns>
    public static (List<SpoolSegment> Segments, long Records, long CorruptBytes, long LastNumber) Recover(string directory, ILogger logger)
    {
        var segments = new List<SpoolSegment>();
        long replayed = 0;
        long corrupt = 0;
        long lastNumber = 0;
        foreach (string path in Directory.EnumerateFiles(directory, "*.seg").Order(StringComparer.Ordinal))
        {
            if (!long.TryParse(Path.GetFileNameWithoutExtension(path), out long number))
            {
                continue;
            }

            lastNumber = Math.Max(lastNumber, number);
            var segment = new SpoolSegment(number, path, fromEarlierProcess: true);
            (int records, long goodBytes, long badBytes, long newest) = Scan(path);
            if (badBytes > 0)
            {
                corrupt += badBytes;
                using var truncate = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
                truncate.SetLength(goodBytes);
                truncate.Flush(flushToDisk: true);
            }

            if (records == 0)
            {
                File.Delete(path);
                continue;
            }

            segment.Length = goodBytes;
            segment.NewestRecordUnixMs = newest;
            replayed += records;
            segments.Add(segment);
        }

        if (corrupt > 0)
        {
            SpoolLog.CorruptTail(logger, corrupt, directory);
        }

        return (segments, replayed, corrupt, lastNumber);
    }

    private static (int Records, long GoodBytes, long BadBytes, long NewestUnixMs) Scan(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int offset = 0;
        int records = 0;
        long newest = 0;
        while (offset < bytes.Length)
        {
            int size = SpoolRecord.TryRead(bytes.AsSpan(offset), out _, out _, out long recordedAt, out _, out _);
            if (size <= 0)
            {
                break; // torn (0) or corrupt (-1): the rest of the file is not trusted
            }

            records++;
            newest = Math.Max(newest, recordedAt);
            offset += size;
        }

        return (records, offset, bytes.Length - offset, newest);
    }
}

/// <summary>The spool's diagnostics.</summary>
internal static partial class SpoolLog
{
    [LoggerMessage(20, LogLevel.Warning, "The spool in {Directory} had {Bytes} bytes of torn or corrupt records (an earlier process was killed or lost power while writing); the good records before them are replayed.")]
    public static partial void CorruptTail(ILogger logger, long bytes, string directory);

    [LoggerMessage(21, LogLevel.Error, "Writing to the spool failed (disk full, file too large, I/O error); the file is cut back to its last whole record and the events of the failed write stay in memory (not durable) until they are uploaded. Later events are written again as soon as the disk takes them; further failures are not logged until a write succeeds.")]
    public static partial void WriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(24, LogLevel.Error, "Forcing the spool to disk failed; the events written stay in the spool and are uploaded from it, but they are not counted as durable (a power loss may lose them). Further failures are not logged until a write succeeds.")]
    public static partial void SyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(23, LogLevel.Information, "Writing to the spool succeeds again; events whose write had failed stay in memory only until they are uploaded.")]
    public static partial void WritesResumed(ILogger logger);

    [LoggerMessage(22, LogLevel.Information, "Replaying {Count} events left in the spool {Directory} by an earlier process.")]
    public static partial void Replaying(ILogger logger, long count, string directory);
}
