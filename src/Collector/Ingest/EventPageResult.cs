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

        // One row beyond the page says whether there is a next page.
        EventQuery oneMore = query with { Limit = query.Limit + 1 };

        // The first row is read before anything is written, so a store that cannot be read (the database is down) is a
        // 503 the client can retry, not a 500. A failure after that ends the connection mid-body: the client sees a
        // truncated answer, never a complete-looking one.
        IAsyncEnumerator<EventRow>? rows = null;
        bool hasRow;
        try
        {
            rows = store.ReadAsync(oneMore, cancellationToken).GetAsyncEnumerator(cancellationToken);
            hasRow = await rows.MoveNextAsync().ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            if (rows is not null)
            {
                await rows.DisposeAsync().ConfigureAwait(false);
            }

            QueryEndpoints.LogReadFailure(httpContext, exception);
            await IngestEndpoints.StoreUnavailable(httpContext, "The events could not be read; ask again after the time in Retry-After.").ExecuteAsync(httpContext).ConfigureAwait(false);
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        await using IAsyncEnumerator<EventRow> reading = rows;
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartArray("events");
        int written = 0;
        EventCursor last = default;
        bool more = false;
        for (; hasRow; hasRow = await reading.MoveNextAsync().ConfigureAwait(false))
        {
            EventRow row = reading.Current;
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
