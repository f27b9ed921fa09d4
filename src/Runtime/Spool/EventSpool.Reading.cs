using System.Text.Json;
using Instrumentation.Upload;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>Reading the spool: checking what an earlier process left at start, and reading records back for upload.</summary>
internal sealed partial class EventSpool
{
    private void Recover(ILogger logger)
    {
        long lastNumber = 0;
        foreach (string path in Directory.EnumerateFiles(_directory, "*.seg").Order(StringComparer.Ordinal))
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
                CorruptBytes += badBytes;
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
            ReplayedCount += records;
            _segments.Add(segment);
        }

        if (CorruptBytes > 0)
        {
            SpoolLog.CorruptTail(logger, CorruptBytes, _directory);
        }

        _active = new SpoolSegment(lastNumber + 1, Path.Combine(_directory, SpoolSegment.FileName(lastNumber + 1)), fromEarlierProcess: false);
        _writer = CreateSegmentFile(_active.Path);
        _segments.Add(_active);
        _cursorSegment = _segments[0];
        _cursorOffset = 0;
        _tailComplete = ReplayedCount == 0;
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

    private QueuedEvent? ReadAt(SpoolSegment segment, long offset, out int size)
    {
        size = 0;
        if (segment == _active && _unflushedRecords > 0)
        {
            _writer.Flush();
            _unflushedRecords = 0;
        }

        if (_reader is null || _readerSegment != segment)
        {
            _reader?.Dispose();
            _reader = new FileStream(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _readerSegment = segment;
        }

        Span<byte> header = stackalloc byte[SpoolRecord.HeaderBytes];
        _reader.Position = offset;
        if (_reader.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
        {
            return null;
        }

        int length = (int)Math.Min(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(header), SpoolRecord.MaxPayloadBytes);
        byte[] record = new byte[SpoolRecord.HeaderBytes + length];
        header.CopyTo(record);
        _reader.ReadAtLeast(record.AsSpan(SpoolRecord.HeaderBytes), length, throwOnEndOfStream: false);
        size = SpoolRecord.TryRead(record, out Priority priority, out Guid id, out long recordedAt, out long ordinal, out ReadOnlySpan<byte> json);
        if (size <= 0)
        {
            return null;
        }

        long itemOrdinal = segment.FromEarlierProcess ? ++_replayOrdinal : ordinal;
        QueuedEvent item = QueuedEvent.Rent(itemOrdinal, id, TypeOf(json), priority, json, DateTimeOffset.FromUnixTimeMilliseconds(recordedAt));
        item.Segment = segment;
        item.SpoolOffset = offset;
        return item;
    }

    private static string TypeOf(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("type"u8) && reader.Read())
                {
                    return reader.GetString() ?? string.Empty;
                }
            }
        }
        catch (JsonException)
        {
            // A record whose JSON cannot be read still uploads; the collector judges it.
        }

        return string.Empty;
    }
}
