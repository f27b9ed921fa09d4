using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Instrumentation.Collector.Health;

/// <summary>
/// Readiness: the store answers a query. A collector whose database is gone should get no traffic. A SQLite store whose
/// dashboard rollups cannot be written is degraded (still 200: uploads and <c>/logs</c> work, so it keeps its traffic),
/// with the reason (the health check service logs a degraded result as a warning with its description).
/// </summary>
internal sealed class StoreHealthCheck(IEventStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PingAsync(cancellationToken).ConfigureAwait(false);
            return store is SqliteEventStore { RollupTrouble: { } trouble }
                ? HealthCheckResult.Degraded(trouble)
                : HealthCheckResult.Healthy("The store answers.");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The store does not answer: " + exception.Message);
        }
    }
}
