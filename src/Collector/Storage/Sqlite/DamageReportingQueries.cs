using Instrumentation.Collector.Dashboard.Queries;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The SQLite store's dashboard reads, which tell the fold writer when one of them meets damage (SQLITE_CORRUPT or
/// SQLITE_NOTADB): the rollup file is a cache that its writer rebuilds when a fold meets damage, but pages only reads
/// touch would otherwise answer 503 until someone deleted the file. The read still fails (503, its client asks again);
/// the fold writer checks the file with its next fold, which the next read waits for. Only the reads that touch the
/// rollup file report: the live tail, one event, and the types read the events file alone, whose damage no check of the
/// rollup file mends (and the live tail polls: each of its reads would ask for one).
/// </summary>
internal sealed class DamageReportingQueries(IDashboardQueries inner, Action reportDamage) : IDashboardQueries
{
    /// <inheritdoc />
    public Task<TimeSeries> CountByTypeOverTimeAsync(DateTimeOffset from, DateTimeOffset until, TimeSpan bucketSize, CancellationToken cancellationToken) =>
        Watch(inner.CountByTypeOverTimeAsync(from, until, bucketSize, cancellationToken));

    /// <inheritdoc />
    public Task<DashboardEventPage> FindEventsAsync(EventFilter filter, int limit, EventCursor? after, CancellationToken cancellationToken) =>
        Watch(inner.FindEventsAsync(filter, limit, after, cancellationToken));

    /// <inheritdoc />
    public Task<IReadOnlyList<DashboardEvent>> NewestAsync(long? afterSequence, int limit, CancellationToken cancellationToken) =>
        inner.NewestAsync(afterSequence, limit, cancellationToken); // the events file alone

    /// <inheritdoc />
    public Task<DashboardEvent?> FindEventAsync(Guid id, CancellationToken cancellationToken) =>
        inner.FindEventAsync(id, cancellationToken); // the events file alone

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> TypesAsync(CancellationToken cancellationToken) =>
        inner.TypesAsync(cancellationToken); // the events file alone

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ContextKeysAsync(CancellationToken cancellationToken) =>
        Watch(inner.ContextKeysAsync(cancellationToken));

    /// <inheritdoc />
    public Task<IReadOnlyList<ContextActivity>> ActivityAsync(string key, DateTimeOffset? from, DateTimeOffset? until, ActivitySort sort, bool descending, int limit, CancellationToken cancellationToken) =>
        Watch(inner.ActivityAsync(key, from, until, sort, descending, limit, cancellationToken));

    private async Task<T> Watch<T>(Task<T> read)
    {
        try
        {
            return await read.ConfigureAwait(false);
        }
        catch (SqliteException exception) when (SqliteRollupFile.IsDamaged(exception))
        {
            reportDamage();
            throw;
        }
    }
}
