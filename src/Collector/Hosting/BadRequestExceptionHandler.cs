using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Turns Kestrel's <see cref="BadHttpRequestException"/> (malformed chunked framing, a body slower than the minimum data
/// rate, a body over the size limit, a connection that ended mid-body) into its own status (400, 408, 413) with a
/// problem body, instead of 500. The ingest endpoints catch these while reading; this covers everything else.
/// </summary>
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = bad.StatusCode, Title = TitleOf(bad.StatusCode), Detail = bad.Message },
        });
    }

    internal static string TitleOf(int status) => status switch
    {
        StatusCodes.Status408RequestTimeout => "Request body too slow",
        StatusCodes.Status413PayloadTooLarge => "Request too large",
        _ => "Bad request",
    };
}
