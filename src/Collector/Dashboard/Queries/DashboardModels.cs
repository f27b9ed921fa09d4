using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Dashboard.Queries;

/// <summary>Events counted per time bucket and type: the overview chart's data.</summary>
/// <param name="From">The start of the first bucket (UTC).</param>
/// <param name="BucketSize">The width of one bucket.</param>
/// <param name="BucketCount">How many buckets cover the range.</param>
/// <param name="Counts">Per type, the count in each bucket (arrays of <paramref name="BucketCount"/>).</param>
/// <param name="ByPriority">Events in the range per priority.</param>
public sealed record TimeSeries(DateTimeOffset From, TimeSpan BucketSize, int BucketCount, IReadOnlyDictionary<string, long[]> Counts, IReadOnlyDictionary<string, long> ByPriority)
{
    /// <summary>The end of the last bucket (capped at the largest time there is).</summary>
    public DateTimeOffset Until => new(Math.Min(From.UtcTicks + (BucketSize.Ticks * BucketCount), DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero);

    /// <summary>Events in the range per type.</summary>
    /// <returns>The totals, by type name.</returns>
    public IReadOnlyList<KeyValuePair<string, long>> TotalsByType() => [.. Counts.Select(c => new KeyValuePair<string, long>(c.Key, c.Value.Sum()))];
}

/// <summary>What the explorer filters on; every part is optional.</summary>
/// <param name="Type">Only this event type.</param>
/// <param name="From">Only events at or after this time.</param>
/// <param name="Until">Only events before this time.</param>
/// <param name="ContextKey">With <paramref name="ContextValue"/>: only events whose <c>context</c> has this field …</param>
/// <param name="ContextValue">… with this value.</param>
/// <param name="Text">Only events whose <c>data</c> contains this text (case-insensitive for ASCII letters).</param>
public sealed record EventFilter(string? Type, DateTimeOffset? From, DateTimeOffset? Until, string? ContextKey, string? ContextValue, string? Text);

/// <summary>One event as the dashboard lists it.</summary>
/// <param name="Id">The event id.</param>
/// <param name="Type">The event type.</param>
/// <param name="Priority"><c>immediate</c> or <c>batch</c>.</param>
/// <param name="Timestamp">When it was recorded.</param>
/// <param name="Json">The event's JSON as stored.</param>
/// <param name="Position">Where it sits in the newest-first order (the explorer's paging); its sequence orders the live tail.</param>
public sealed record DashboardEvent(string Id, string Type, string Priority, DateTimeOffset Timestamp, string Json, EventCursor Position);

/// <summary>A page of events, newest first.</summary>
/// <param name="Rows">The events.</param>
/// <param name="Next">Where the next page starts, or null on the last page.</param>
public sealed record DashboardEventPage(IReadOnlyList<DashboardEvent> Rows, EventCursor? Next);

/// <summary>How the activity view is ordered.</summary>
public enum ActivitySort
{
    /// <summary>Most events first.</summary>
    Events,

    /// <summary>By the context value.</summary>
    Value,

    /// <summary>By first seen.</summary>
    FirstSeen,

    /// <summary>By last seen.</summary>
    LastSeen,

    /// <summary>By active minutes.</summary>
    ActiveMinutes,
}

/// <summary>The activity of one context value (one student, one course …).</summary>
/// <param name="Value">The context value.</param>
/// <param name="Events">Events with it.</param>
/// <param name="FirstSeen">Its earliest event.</param>
/// <param name="LastSeen">Its latest event.</param>
/// <param name="ActiveMinutes">Distinct minutes with at least one event.</param>
/// <param name="TopTypes">Its most frequent event types with their counts, most first (at most three).</param>
public sealed record ContextActivity(string Value, long Events, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, long ActiveMinutes, IReadOnlyList<KeyValuePair<string, long>> TopTypes);
