using System.Data.Common;
using Instrumentation.Collector.Ingest;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Turns a store failure that an endpoint did not answer itself (a dashboard page whose database is down, full or
/// locked, or whose pending rollups cannot be written) into 503 with <c>Retry-After</c> and a problem body, instead of
/// 500: the outage is the server's and passes, so a browser or a load balancer should ask again. Ingest, <c>/logs</c>
/// and <c>/stats</c> answer their own store failures the same way.
/// </summary>
/// <remarks>
/// The failure is logged here as an error: since .NET 10 the exception handler middleware emits no diagnostics for an
/// exception that an <see cref="IExceptionHandler"/> handled, so without this line an outage would leave no trace.
/// </remarks>
internal sealed class StoreUnavailableExceptionHandler(IHostApplicationLifetime lifetime) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsStoreUnavailable(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        // The same answer, and the same log line, as /logs and /stats give for their own store failures.
        QueryEndpoints.LogReadFailure(httpContext, exception);
        await IngestEndpoints.StoreUnavailable(httpContext, "The store could not answer; ask again after the time in Retry-After.").ExecuteAsync(httpContext).ConfigureAwait(false);
        return true;
    }

    // What the stores throw when their database cannot answer: ADO.NET errors (SQLite, Npgsql), the connection's I/O, a
    // command timeout. ObjectDisposedException only while the application stops (the store is shutting down): any other
    // is a bug in the code that used a disposed object, and stays a 500.
    private bool IsStoreUnavailable(Exception exception) =>
        exception is DbException or IOException or TimeoutException
        || (exception is ObjectDisposedException && lifetime.ApplicationStopping.IsCancellationRequested);
}
