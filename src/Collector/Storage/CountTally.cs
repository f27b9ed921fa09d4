namespace Instrumentation.Collector.Storage;

/// <summary>
/// The new events of one transaction counted per type and priority, with their first and last timestamps: what the
/// store adds to its counts table in the same transaction, so that statistics read O(types) rows, never the events.
/// (A SQLite batch also counts all its events on the request's thread, <see cref="Sqlite.PreparedBatch"/>; the writer
/// adds that tally only when every event of the batch was new.)
/// </summary>
internal sealed class CountTally
{
    private readonly Dictionary<(string Type, string Priority), Entry> _entries = [];

    public int Count => _entries.Count;

    public void Add(StoredEvent item)
    {
        long ticks = item.Timestamp.UtcTicks;
        (string, string) key = (item.Type, item.Priority);
        _entries[key] = _entries.TryGetValue(key, out Entry entry)
            ? new Entry(entry.Count + 1, Math.Min(entry.FirstTicks, ticks), Math.Max(entry.LastTicks, ticks))
            : new Entry(1, ticks, ticks);
    }

    /// <summary>The entries in one fixed order (ordinal by type, then priority), so that concurrent transactions on a
    /// shared database lock the counts rows in the same order and cannot deadlock.</summary>
    public IEnumerable<(string Type, string Priority, Entry Entry)> Ordered() =>
        _entries.OrderBy(e => e.Key.Type, StringComparer.Ordinal).ThenBy(e => e.Key.Priority, StringComparer.Ordinal)
            .Select(e => (e.Key.Type, e.Key.Priority, e.Value));

    /// <summary>Adds another tally's entries (counted from other events) to this one.</summary>
    public void Add(CountTally other)
    {
        foreach (((string, string) key, Entry theirs) in other._entries)
        {
            _entries[key] = _entries.TryGetValue(key, out Entry entry)
                ? new Entry(entry.Count + theirs.Count, Math.Min(entry.FirstTicks, theirs.FirstTicks), Math.Max(entry.LastTicks, theirs.LastTicks))
                : theirs;
        }
    }

    public void Clear() => _entries.Clear();

    public readonly record struct Entry(long Count, long FirstTicks, long LastTicks);
}
