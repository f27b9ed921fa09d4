using Instrumentation.Collector.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Instrumentation.Collector.Health;

/// <summary>Readiness: the store answers a query. A collector whose database is gone should get no traffic.</summary>
internal sealed class StoreHealthCheck(IEventStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PingAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("The store answers.");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The store does not answer: " + exception.Message);
        }
    }
}
