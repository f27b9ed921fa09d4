using System.Text.Json;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// The answer to <c>GET /logs</c>, <c>{"events":[…],"next_cursor":…}</c>. Rows are read in chunks of about
/// <see cref="ChunkBytes"/>: each chunk is read with the store's reader open, the reader is closed, and only then is the
/// chunk written to the client. A slow client therefore never holds a database read open (on SQLite an open read keeps
/// the WAL from being checkpointed, so the file would grow for as long as the client takes), and a request holds one
/// chunk and one response buffer whatever the page size. Each event's stored JSON goes out as it is, unparsed.
/// </summary>
internal sealed class EventPageResult(IEventStore store, EventQuery query) : IResult
{
    /// <summary>About how many bytes of events one read takes before it closes the reader and writes them.</summary>
    internal const int ChunkBytes = 256 * 1024;

    private const int FlushThreshold = 32 * 1024;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        CancellationToken cancellationToken = httpContext.RequestAborted;
        HttpResponse response = httpContext.Response;

        // The first chunk is read before anything is written, so a store that cannot be read (the database is down) is a
        // 503 the client can retry, not a 500. A failure after that ends the connection mid-body: the client sees a
        // truncated answer, never a complete-looking one.
        var chunk = new List<EventRow>();
        bool storeHasMore;
        try
        {
            storeHasMore = await ReadChunkAsync(chunk, query.After, query.Limit + 1, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            QueryEndpoints.LogReadFailure(httpContext, exception);
            await IngestEndpoints.StoreUnavailable(httpContext, "The events could not be read; ask again after the time in Retry-After.").ExecuteAsync(httpContext).ConfigureAwait(false);
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartArray("events");
        int written = 0;
        EventCursor last = default;
        bool more = false;
        while (true)
        {
            foreach (EventRow row in chunk)
            {
                if (written == query.Limit)
                {
                    more = true; // one row beyond the page says there is a next page
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

            if (more || !storeHasMore)
            {
                break;
            }

            // Continue after the last row written: the cursor order (timestamp, then sequence) has no ties.
            chunk.Clear();
            storeHasMore = await ReadChunkAsync(chunk, last, query.Limit + 1 - written, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Reads up to <paramref name="rows"/> rows after <paramref name="after"/> into <paramref name="chunk"/>, stopping
    /// early at about <see cref="ChunkBytes"/>; the store's reader is closed when it returns.
    /// </summary>
    /// <returns>True when it stopped early for size (the store may have more rows), false when the store had no more.</returns>
    private async Task<bool> ReadChunkAsync(List<EventRow> chunk, EventCursor? after, int rows, CancellationToken cancellationToken)
    {
        long bytes = 0;
        await foreach (EventRow row in store.ReadAsync(query with { After = after, Limit = rows }, cancellationToken).ConfigureAwait(false))
        {
            chunk.Add(row);
            bytes += row.Json.Length;
            if (bytes >= ChunkBytes && chunk.Count < rows)
            {
                return true;
            }
        }

        return false;
    }
}
