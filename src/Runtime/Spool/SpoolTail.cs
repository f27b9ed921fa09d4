using System.Buffers;

namespace Instrumentation.Spool;

/// <summary>
/// Copies of the newest records, kept while the uploader keeps up, so they are not read back from disk. When it falls
/// behind (an outage) the tail is dropped and records are read from the files as it drains: memory stays bounded while
/// the spool grows to its cap. Owned by <see cref="EventSpool"/>.
/// </summary>
internal sealed class SpoolTail
{
    private const int Limit = 4096;

    private readonly Queue<TailRecord> _records = new();

    public int Count => _records.Count;

    /// <summary>Keeps a copy; returns false (and keeps nothing) when the tail is full.</summary>
    public bool TryAdd(in SpoolEntry entry, SpoolSegment segment, long offset)
    {
        if (_records.Count >= Limit)
        {
            return false;
        }

        byte[] json = ArrayPool<byte>.Shared.Rent(entry.Json.Length);
        entry.Json.CopyTo(json);
        _records.Enqueue(new TailRecord(entry.Ordinal, entry.Id, entry.Type, entry.Priority, entry.RecordedAt, json, entry.Json.Length, segment, offset));
        return true;
    }

    public bool TryPeek(out TailRecord? record)
    {
        bool found = _records.TryPeek(out TailRecord? first);
        record = first;
        return found;
    }

    /// <summary>Takes the oldest copy; give its buffer back with <see cref="TailRecord.Release"/> when done reading it.</summary>
    public TailRecord Take() => _records.Dequeue();

    public void Clear()
    {
        while (_records.TryDequeue(out TailRecord? record))
        {
            record.Release();
        }
    }
}

/// <summary>A copy of one record in the tail, and where it lives in the files.</summary>
internal sealed record TailRecord(long Ordinal, Guid Id, string Type, Priority Priority, DateTimeOffset RecordedAt, byte[] Buffer, int Length, SpoolSegment Segment, long Offset)
{
    public ReadOnlySpan<byte> Json => Buffer.AsSpan(0, Length);

    public void Release() => ArrayPool<byte>.Shared.Return(Buffer);
}
