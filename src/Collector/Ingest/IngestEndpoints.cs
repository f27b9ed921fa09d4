using System.Text.Json;
using Instrumentation.Collector.Dashboard;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// <c>POST /logs</c> (one event) and <c>POST /logs/batch</c> (<c>{"events":[…]}</c>): read, validate each event,
/// store the valid ones in one transaction, and answer <c>{"accepted":N,"rejected":[…]}</c>.
/// </summary>
internal static class IngestEndpoints
{
    public static void MapIngest(this IEndpointRouteBuilder routes, CollectorOptions options, IEventStore store, IngestActivity activity)
    {
        // Typed as Func so they bind as route handlers (whose IResult is written), not as plain RequestDelegates.
        Func<HttpContext, Task<IResult>> ingestOne = async context => Count(await IngestAsync(context, options, store, activity, isBatch: false), activity);
        Func<HttpContext, Task<IResult>> ingestBatch = async context => Count(await IngestAsync(context, options, store, activity, isBatch: true), activity);
        routes.MapPost("/logs", ingestOne);
        routes.MapPost("/logs/batch", ingestBatch);
    }

    // A request refused as a whole counts once under its problem title (the dashboard's "rejected by reason").
    private static IResult Count(IResult result, IngestActivity activity)
    {
        if (result is Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult problem)
        {
            activity.Rejected("request: " + (problem.ProblemDetails.Title ?? problem.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return result;
    }

    private static async Task<IResult> IngestAsync(HttpContext context, CollectorOptions options, IEventStore store, IngestActivity activity, bool isBatch)
    {
        HttpRequest request = context.Request;
        if (!IsJson(request.ContentType))
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported content type", $"Send 'Content-Type: application/json'; got '{request.ContentType}'.");
        }

        (RequestBodyReader.Status status, RequestBodyReader.Body read, string? unreadable) = await RequestBodyReader.ReadAsync(request, options.MaxRequestBytes, context.RequestAborted);
        // The parsed document and the stored events (their JSON is a slice of it, not a copy) refer to this pooled buffer:
        // it goes back to the pool only when this method returns, after InsertAsync has completed. InsertAsync completes
        // early only for a batch still waiting in the queue, which is then never written; so nothing here may stop
        // waiting on it sooner (no WaitAsync, no timeout), even when the request is aborted.
        using RequestBodyReader.Body body = read;
        switch (status)
        {
            case RequestBodyReader.Status.TooLarge:
                // The rest of the body is not read: close the connection after the answer rather than drain an unbounded body.
                context.Response.Headers.Connection = "close";
                return Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"The body is larger than {options.MaxRequestBytes} bytes (as sent, or after decompression); send smaller batches.");
            case RequestBodyReader.Status.BadEncoding:
                return Problem(StatusCodes.Status400BadRequest, "Bad gzip body", "The body is marked 'Content-Encoding: gzip' but is not a valid gzip stream.");
            case RequestBodyReader.Status.Unreadable:
                return Problem(StatusCodes.Status400BadRequest, "Bad request", "The body could not be read: " + unreadable);
            case RequestBodyReader.Status.UnsupportedEncoding:
                return Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported content encoding", "Only 'gzip' (or no Content-Encoding) is accepted.");
        }

        JsonDocument document;
        try
        {
            // Deeper than an event may be, so that a too-deep event is rejected alone and its batch's others are kept.
            document = JsonDocument.Parse(body.Memory, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException exception)
        {
            return Problem(StatusCodes.Status400BadRequest, "Body is not JSON", "The body is not valid JSON (or nests deeper than 256 levels): " + exception.Message);
        }

        using (document)
        {
            List<JsonElement> items;
            if (isBatch)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object
                    || !document.RootElement.TryGetProperty("events", out JsonElement events)
                    || events.ValueKind != JsonValueKind.Array)
                {
                    return Problem(StatusCodes.Status400BadRequest, "Not a batch", "A batch is a JSON object with an 'events' array: {\"events\":[…]}.");
                }

                items = [.. events.EnumerateArray()];
                if (items.Count > options.MaxEventsPerBatch)
                {
                    return Problem(StatusCodes.Status413PayloadTooLarge, "Too many events", $"A batch may hold at most {options.MaxEventsPerBatch} events; this one has {items.Count}.");
                }
            }
            else
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    return Problem(StatusCodes.Status400BadRequest, "Not an event", "POST /logs takes one event, a JSON object.");
                }

                if (body.Length > options.MaxEventBytes)
                {
                    return Problem(StatusCodes.Status413PayloadTooLarge, "Event too large", $"An event may be at most {options.MaxEventBytes} bytes.");
                }

                items = [document.RootElement];
            }

            var valid = new List<StoredEvent>(items.Count);
            var rejected = new List<Rejection>();
            var strings = new Utf8Strings();
            for (int i = 0; i < items.Count; i++)
            {
                if (EventValidator.TryValidate(items[i], body.Memory, strings, options.MaxEventBytes, options.MaxEventDepth, out StoredEvent? stored, out string? reason))
                {
                    valid.Add(stored!);
                }
                else
                {
                    rejected.Add(new Rejection(i, EventValidator.ReadableId(items[i]), reason!, false));
                    activity.Rejected(CountedReason(reason!));
                }
            }

            try
            {
                await store.InsertAsync(valid, context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                throw; // the client went away: nobody reads an answer
            }
            catch (Exception exception)
            {
                // The database is down, full or shutting down. 503 (not 500) keeps the uploader from spending its retry
                // budget and dead-lettering the events: it keeps them and sends them again, here or to another instance.
                context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IngestEndpoints))
                    .LogError(exception, "The store did not take {Count} events; answered 503 so that the client sends them again", valid.Count);
                return StoreUnavailable(context, "The events were not stored; send them again after the time in Retry-After.");
            }

            activity.Accepted(valid.Count);
            return Results.Json(new IngestAnswer(valid.Count, rejected), CollectorJsonContext.Default.IngestAnswer);
        }
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null
        && (contentType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || contentType.StartsWith("application/json;", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The reason the dashboard counts a rejection under: the answer's reason without what it quotes from the event (a
    /// repeated member name), so that the counted reasons stay a fixed set an uploader cannot fill with names of its own.
    /// </summary>
    internal static string CountedReason(string reason)
    {
        int quote = reason.IndexOf(" ('", StringComparison.Ordinal);
        return quote < 0 ? reason : reason[..quote];
    }

    /// <summary>503 with <c>Retry-After</c>: the store failed (a database outage is not the client's fault, and passes).</summary>
    internal static IResult StoreUnavailable(HttpContext context, string detail)
    {
        context.Response.Headers.RetryAfter = "5";
        return Problem(StatusCodes.Status503ServiceUnavailable, "Store unavailable", detail);
    }

    internal static IResult Problem(int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail);
}
