using System.Text.Json;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// The answer to <c>GET /logs</c>, <c>{"events":[…],"next_cursor":…}</c>, written row by row as the store reads them:
/// each event's stored JSON goes to the response as it is (no parse, no page in memory), and the response is flushed
/// every <see cref="FlushThreshold"/> bytes, so a request holds one event and one buffer whatever the page size.
/// </summary>
internal sealed class EventPageResult(IEventStore store, EventQuery query) : IResult
{
    private const int FlushThreshold = 32 * 1024;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        CancellationToken cancellationToken = httpContext.RequestAborted;
        HttpResponse response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";

        // One row beyond the page says whether there is a next page.
        EventQuery oneMore = query with { Limit = query.Limit + 1 };
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartArray("events");
        int written = 0;
        EventCursor last = default;
        bool more = false;
        await foreach (EventRow row in store.ReadAsync(oneMore, cancellationToken).ConfigureAwait(false))
        {
            if (written == query.Limit)
            {
                more = true;
                break;
            }

            // Stored JSON was parsed and checked when it was received; writing it unvalidated keeps the read O(bytes).
            writer.WriteRawValue(row.Json, skipInputValidation: true);
            written++;
            last = row.Cursor;
            if (writer.BytesPending >= FlushThreshold)
            {
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                await response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        if (more)
        {
            writer.WriteString("next_cursor", last.ToString());
        }
        else
        {
            writer.WriteNull("next_cursor");
        }

        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        await response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
