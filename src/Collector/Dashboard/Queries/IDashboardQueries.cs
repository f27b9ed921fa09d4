using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Dashboard.Queries;

/// <summary>
/// The reads behind the dashboard. Each answers from an index or a rollup maintained at insert time, so that a page
/// costs about the same at a thousand stored events as at a million.
/// </summary>
public interface IDashboardQueries
{
    /// <summary>Events per bucket and type in [<paramref name="from"/>, <paramref name="until"/>).</summary>
    /// <param name="from">Start (rounded down to whole minutes).</param>
    /// <param name="until">End (exclusive).</param>
    /// <param name="bucketSize">Bucket width, a whole number of minutes.</param>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The counts.</returns>
    Task<TimeSeries> CountByTypeOverTimeAsync(DateTimeOffset from, DateTimeOffset until, TimeSpan bucketSize, CancellationToken cancellationToken);

    /// <summary>Events matching <paramref name="filter"/>, newest first, a page at a time.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="limit">Page size.</param>
    /// <param name="after">The previous page's <see cref="DashboardEventPage.Next"/>, or null for the first page.</param>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The page.</returns>
    Task<DashboardEventPage> FindEventsAsync(EventFilter filter, int limit, EventCursor? after, CancellationToken cancellationToken);

    /// <summary>The most recently stored events (in arrival order, newest first), only those stored after <paramref name="afterSequence"/> when set.</summary>
    /// <param name="afterSequence">The largest sequence the caller already has, or null.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The events.</returns>
    Task<IReadOnlyList<DashboardEvent>> NewestAsync(long? afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>One event by id, or null.</summary>
    /// <param name="id">The event id.</param>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The event.</returns>
    Task<DashboardEvent?> FindEventAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>The event types stored, sorted (at most 200).</summary>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The types.</returns>
    Task<IReadOnlyList<string>> TypesAsync(CancellationToken cancellationToken);

    /// <summary>The <c>context</c> field names seen so far, sorted (at most 100).</summary>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The names.</returns>
    Task<IReadOnlyList<string>> ContextKeysAsync(CancellationToken cancellationToken);

    /// <summary>Activity per value of the context field <paramref name="key"/> within an optional time range.</summary>
    /// <param name="key">The context field (such as <c>net_id</c>).</param>
    /// <param name="from">Only events at or after this time (minute precision), when set.</param>
    /// <param name="until">Only events before this time (minute precision), when set.</param>
    /// <param name="sort">The order.</param>
    /// <param name="descending">Largest first.</param>
    /// <param name="limit">At most this many values.</param>
    /// <param name="cancellationToken">Stops the query.</param>
    /// <returns>The values' activity.</returns>
    Task<IReadOnlyList<ContextActivity>> ActivityAsync(string key, DateTimeOffset? from, DateTimeOffset? until, ActivitySort sort, bool descending, int limit, CancellationToken cancellationToken);
}
