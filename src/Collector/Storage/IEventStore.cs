using Instrumentation.Collector.Dashboard.Queries;

namespace Instrumentation.Collector.Storage;

/// <summary>
/// Where the collector keeps events: SQLite embedded (<see cref="Sqlite.SqliteEventStore"/>) or a PostgreSQL server shared
/// by several collector instances (<see cref="PostgreSql.PostgreSqlEventStore"/>). Every member is safe to call
/// concurrently.
/// </summary>
/// <remarks>
/// Writes go through one writer per store that commits the batches of several concurrent requests in one transaction
/// (group commit); <see cref="InsertAsync"/> completes when the transaction holding its events has committed. Reads
/// stream: <see cref="ReadAsync"/> yields one row at a time from the database reader, so a caller that writes each row
/// to the response holds one event in memory, not a page.
/// </remarks>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>The provider's name, as configured (<c>Sqlite</c> or <c>PostgreSql</c>).</summary>
    string Provider { get; }

    /// <summary>
    /// Creates the schema or migrates it to the version this collector needs (recorded in a schema version table).
    /// Idempotent, and safe when several collector instances start at once on one database. Call once before use.
    /// </summary>
    /// <param name="cancellationToken">Stops the migration (its transaction rolls back).</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="InvalidOperationException">The database holds a newer schema than this collector knows.</exception>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a batch: every event whose id is not stored yet is added; an id already stored (or repeated earlier in the
    /// same batch) is a duplicate and changes nothing. Completes when the events are durable.
    /// </summary>
    /// <param name="events">The events.</param>
    /// <param name="cancellationToken">Stops waiting. A batch cancelled before the writer took it is not stored; once its
    /// transaction has started it may still commit (so a retry is answered as duplicates).</param>
    /// <returns>Which events were new and which were duplicates, in the order given.</returns>
    Task<InsertResult> InsertAsync(IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken);

    /// <summary>Events matching <paramref name="query"/>, newest first, streamed from the database one row at a time.</summary>
    /// <param name="query">The filters, the cursor and the most rows to return.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The rows.</returns>
    IAsyncEnumerable<EventRow> ReadAsync(EventQuery query, CancellationToken cancellationToken);

    /// <summary>Counts of events per time bucket and type (for charts), oldest bucket first.</summary>
    /// <param name="query">The bucket width and the filters.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>One row per bucket and type that holds events.</returns>
    IAsyncEnumerable<EventCountBucket> CountByTimeAsync(EventCountQuery query, CancellationToken cancellationToken);

    /// <summary>Totals per type and priority and the first and last timestamps; costs O(number of types), not O(events).</summary>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The statistics.</returns>
    Task<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken);

    /// <summary>The dashboard's reads over this store (they use the rollups the writer keeps, see Storage/Rollups).</summary>
    IDashboardQueries Dashboard { get; }

    /// <summary>Checks that the database answers (a readiness probe): opens a connection and runs a trivial query.</summary>
    /// <param name="cancellationToken">Stops the check.</param>
    /// <returns>A task that fails when the database does not answer.</returns>
    Task PingAsync(CancellationToken cancellationToken);
}
