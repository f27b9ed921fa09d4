using System.Collections;
using System.Globalization;
using Instrumentation.Collector.Storage.Rollups;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// A request's batch as the SQLite writer wants it, made on the request's thread before it is queued: each event's id
/// as the 16 bytes the column holds and its timestamp as the UTF-8 text, and the batch's counts and dashboard sums as if every event were
/// new. The single writer then binds ready bytes and adds a few sums per batch, instead of formatting and summing per
/// event; for a batch in which some event was a duplicate it sums the new events itself.
/// </summary>
internal sealed class PreparedBatch : IReadOnlyList<StoredEvent>
{
    // An id is 16 bytes, a UTC timestamp in the round-trip form 28 bytes of text: one 64-byte slot per event.
    private const int Slot = 64;
    private const int IdLength = 16;

    private readonly IReadOnlyList<StoredEvent> _events;
    private readonly byte[] _text;
    private readonly byte[] _timestampLengths;

    public PreparedBatch(IReadOnlyList<StoredEvent> events)
    {
        _events = events;
        _text = new byte[events.Count * Slot];
        _timestampLengths = new byte[events.Count];
        for (int i = 0; i < events.Count; i++)
        {
            StoredEvent item = events[i];
            Span<byte> slot = _text.AsSpan(i * Slot, Slot);
            item.Id.TryWriteBytes(slot, bigEndian: true, out _);
            item.Timestamp.UtcDateTime.TryFormat(slot[IdLength..], out int written, "O", CultureInfo.InvariantCulture);
            _timestampLengths[i] = (byte)written;
            Tally.Add(item);
            Rollup.Add(item);
        }
    }

    /// <summary>Counts per type and priority of all the batch's events.</summary>
    public CountTally Tally { get; } = new();

    /// <summary>The dashboard's sums over all the batch's events.</summary>
    public DashboardRollup Rollup { get; } = new();

    public int Count => _events.Count;

    public StoredEvent this[int index] => _events[index];

    /// <summary>The event's id, as the <c>id</c> column holds it: its 16 bytes in RFC 9562 order (a UUIDv7's sort by time).</summary>
    public ReadOnlySpan<byte> IdBytes(int index) => _text.AsSpan(index * Slot, IdLength);

    /// <summary>The event's timestamp in UTC, as the <c>timestamp</c> column holds it.</summary>
    public ReadOnlySpan<byte> TimestampText(int index) => _text.AsSpan((index * Slot) + IdLength, _timestampLengths[index]);

    public IEnumerator<StoredEvent> GetEnumerator() => _events.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
