using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Dashboard.Pages;

/// <summary>The overview: the chart and the totals of a range, the ingest rate and refusals since start.</summary>
/// <param name="Window">The chosen range.</param>
/// <param name="Error">Why the requested range was refused (the default range is shown instead), or null.</param>
/// <param name="Series">Events per bucket and type in the range.</param>
/// <param name="ChartSvg">The chart, as SVG markup.</param>
/// <param name="RateLastMinute">Events accepted per second over the last minute.</param>
/// <param name="RateLastTenMinutes">Events accepted per second over the last ten minutes.</param>
/// <param name="AcceptedSinceStart">Events accepted since the process started.</param>
/// <param name="StartedAt">When the process started counting.</param>
/// <param name="RejectedByReason">Refused events and requests since start, by reason.</param>
public sealed record OverviewModel(
    TimeWindow Window,
    string? Error,
    TimeSeries Series,
    string ChartSvg,
    double RateLastMinute,
    double RateLastTenMinutes,
    long AcceptedSinceStart,
    DateTimeOffset StartedAt,
    IReadOnlyList<KeyValuePair<string, long>> RejectedByReason);

/// <summary>The explorer: the filter as typed, and a page of matching events.</summary>
/// <param name="Type">The type filter.</param>
/// <param name="From">The start as typed.</param>
/// <param name="To">The end as typed.</param>
/// <param name="ContextKey">The context field filtered on.</param>
/// <param name="ContextValue">The value it must have.</param>
/// <param name="Text">Text to find in <c>data</c>.</param>
/// <param name="Error">Why the filter was refused, or null.</param>
/// <param name="Types">The stored event types (for the type list).</param>
/// <param name="ContextKeys">The context fields seen (for suggestions).</param>
/// <param name="Page">The matching events.</param>
/// <param name="IsFirstPage">Whether this is the first page.</param>
public sealed record ExplorerModel(
    string? Type,
    string? From,
    string? To,
    string? ContextKey,
    string? ContextValue,
    string? Text,
    string? Error,
    IReadOnlyList<string> Types,
    IReadOnlyList<string> ContextKeys,
    DashboardEventPage Page,
    bool IsFirstPage)
{
    /// <summary>The explorer URL for this filter (and, optionally, a page position).</summary>
    /// <param name="after">Where the page starts, or null for the first page.</param>
    /// <returns>A URL relative to the dashboard's base.</returns>
    public string Link(EventCursor? after = null) => DashboardLinks.Explorer(Type, From, To, ContextKey, ContextValue, Text, after);
}

/// <summary>The activity view of one context field.</summary>
/// <param name="Key">The context field.</param>
/// <param name="Window">The chosen range.</param>
/// <param name="Error">Why the input was refused, or null.</param>
/// <param name="Sort">The column sorted on.</param>
/// <param name="Descending">Whether largest first.</param>
/// <param name="ContextKeys">The context fields seen (for suggestions).</param>
/// <param name="Rows">One row per value.</param>
public sealed record ActivityModel(
    string Key,
    TimeWindow Window,
    string? Error,
    ActivitySort Sort,
    bool Descending,
    IReadOnlyList<string> ContextKeys,
    IReadOnlyList<ContextActivity> Rows);

/// <summary>The live tail's first render.</summary>
/// <param name="Rows">The newest events.</param>
/// <param name="LastSequence">The newest event's sequence (the poller asks for what came after it).</param>
public sealed record TailModel(IReadOnlyList<DashboardEvent> Rows, long LastSequence);
