using System.Data.Common;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Turns a store failure that an endpoint did not answer itself (a dashboard page whose database is down, full or
/// locked, or whose pending rollups cannot be written) into 503 with <c>Retry-After</c> and a problem body, instead of
/// 500: the outage is the server's and passes, so a browser or a load balancer should ask again. Ingest, <c>/logs</c>
/// and <c>/stats</c> answer their own store failures the same way.
/// </summary>
internal sealed class StoreUnavailableExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // What the stores throw when their database cannot answer: ADO.NET errors (SQLite, Npgsql), the connection's I/O,
        // a command timeout, or the store shutting down.
        if (exception is not (DbException or IOException or TimeoutException or ObjectDisposedException) || httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Store unavailable",
                Detail = "The store could not answer; ask again after the time in Retry-After.",
            },
        });
    }
}
