using System.Globalization;
using System.Text.Json.Serialization;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Ingest;

/// <summary>The read side: <c>GET /logs</c> (newest first, paged), and <c>GET /stats</c> (health checks are mapped with the host).</summary>
internal static class QueryEndpoints
{
    public static void MapQueries(this IEndpointRouteBuilder routes, CollectorOptions options, IEventStore store)
    {
        routes.MapGet("/stats", async Task<IResult> (HttpContext context, CancellationToken cancellationToken) =>
        {
            StoreStatistics statistics;
            try
            {
                statistics = await store.GetStatisticsAsync(cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                LogReadFailure(context, exception);
                return IngestEndpoints.StoreUnavailable(context, "The statistics could not be read; ask again after the time in Retry-After.");
            }

            return Results.Json(
                new StatsAnswer(statistics.Total, statistics.ByType, statistics.ByPriority, statistics.FirstTimestamp, statistics.LastTimestamp),
                CollectorJsonContext.Default.StatsAnswer);
        });
        routes.MapGet("/logs", (string? type, string? since, string? until, string? limit, string? cursor) =>
        {
            if (!TryParseTime(since, out DateTimeOffset? from) || !TryParseTime(until, out DateTimeOffset? to))
            {
                return IngestEndpoints.Problem(StatusCodes.Status400BadRequest, "Bad time", "'since' and 'until' must be ISO 8601 date-times with an offset or Z (such as 2026-11-29T12:00:00Z).");
            }

            int pageSize = 100;
            if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize < 1 || pageSize > options.MaxPageSize))
            {
                return IngestEndpoints.Problem(StatusCodes.Status400BadRequest, "Bad limit", $"'limit' must be a whole number from 1 to {options.MaxPageSize}.");
            }

            EventCursor? after = null;
            if (cursor is not null)
            {
                if (!EventCursor.TryParse(cursor, out EventCursor parsed))
                {
                    return IngestEndpoints.Problem(StatusCodes.Status400BadRequest, "Bad cursor", "'cursor' must be a value returned as 'next_cursor'.");
                }

                after = parsed;
            }

            var query = new EventQuery { Type = string.IsNullOrEmpty(type) ? null : type, Since = from, Until = to, After = after, Limit = pageSize };
            return new EventPageResult(store, query);
        });
    }

    internal static void LogReadFailure(HttpContext context, Exception exception) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(QueryEndpoints))
            .LogError(exception, "The store could not be read; answered 503");

    private static bool TryParseTime(string? text, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (StrictTimestamp.TryParse(text, out DateTimeOffset parsed))
        {
            value = parsed;
            return true;
        }

        return false;
    }
}

/// <summary>What the store holds.</summary>
/// <param name="Total">Events stored.</param>
/// <param name="ByType">Per type.</param>
/// <param name="ByPriority">Per priority.</param>
/// <param name="FirstTimestamp">Earliest.</param>
/// <param name="LastTimestamp">Latest.</param>
internal sealed record StatsAnswer(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("by_type")] IReadOnlyDictionary<string, long> ByType,
    [property: JsonPropertyName("by_priority")] IReadOnlyDictionary<string, long> ByPriority,
    [property: JsonPropertyName("first_timestamp")] DateTimeOffset? FirstTimestamp,
    [property: JsonPropertyName("last_timestamp")] DateTimeOffset? LastTimestamp);
