namespace Instrumentation.Collector.Storage;

/// <summary>One valid event, ready to store: the fields the store indexes, and the event's JSON as received.</summary>
/// <param name="Id">The event id (the primary key: a repeated id is accepted and not stored again).</param>
/// <param name="Type">The event type.</param>
/// <param name="Priority"><c>immediate</c> or <c>batch</c>.</param>
/// <param name="Timestamp">When the event was recorded.</param>
/// <param name="Json">The event's JSON.</param>
public sealed record StoredEvent(Guid Id, string Type, string Priority, DateTimeOffset Timestamp, string Json);

/// <summary>Counts by type and priority, and the first and last timestamps.</summary>
/// <param name="Total">Events stored.</param>
/// <param name="ByType">Events per type.</param>
/// <param name="ByPriority">Events per priority.</param>
/// <param name="FirstTimestamp">The earliest event timestamp, or null when empty.</param>
/// <param name="LastTimestamp">The latest event timestamp, or null when empty.</param>
public sealed record StoreStatistics(
    long Total,
    IReadOnlyDictionary<string, long> ByType,
    IReadOnlyDictionary<string, long> ByPriority,
    DateTimeOffset? FirstTimestamp,
    DateTimeOffset? LastTimestamp);

/// <summary>A page of <c>GET /logs</c>.</summary>
/// <param name="Events">The events' JSON, newest first.</param>
/// <param name="NextCursor">Pass as <c>cursor</c> to read the next page; null on the last page.</param>
public sealed record EventPage(IReadOnlyList<string> Events, string? NextCursor);
