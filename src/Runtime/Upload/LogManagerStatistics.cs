namespace Instrumentation;

/// <summary>Totals since a <see cref="LogManager"/> started (the same figures as the <c>Instrumentation</c> meter).</summary>
/// <param name="EventsRecorded">Events handed to the uploader.</param>
/// <param name="EventsUploaded">Events the collector accepted.</param>
/// <param name="EventsRetried">Events queued again after a failed or partly rejected upload (counted per retry).</param>
/// <param name="EventsDeadLettered">Events refused for good or out of retries.</param>
/// <param name="EventsDropped">Events dropped before upload, by reason (<c>queue_full</c>, <c>queue_bytes</c>, <c>shutdown</c>, …).</param>
/// <param name="ImmediateRequests">Requests made to <c>/logs</c>.</param>
/// <param name="BatchRequests">Requests made to <c>/logs/batch</c>.</param>
/// <param name="BytesBeforeCompression">Request body bytes before compression.</param>
/// <param name="BytesSent">Request body bytes as sent (after compression where applied).</param>
/// <param name="PendingCount">Events waiting to be uploaded now.</param>
/// <param name="EventsReplayed">Durable mode: events found in the spool at start, left by an earlier process.</param>
/// <param name="EventsDurable">Durable mode: events whose spool record is written as the flush policy requires (forced to disk for Interval and Always).</param>
/// <param name="SpoolBytes">Durable mode: bytes of events in the spool now.</param>
/// <param name="SpoolCorruptBytes">Durable mode: bytes of torn or corrupt records cut off at start.</param>
/// <param name="Endpoint">The collector address the manager sends to (the option, or the one <c>INSTRUMENTATION_ENDPOINT</c> named).</param>
public sealed record LogManagerStatistics(
    long EventsRecorded,
    long EventsUploaded,
    long EventsRetried,
    long EventsDeadLettered,
    IReadOnlyDictionary<string, long> EventsDropped,
    long ImmediateRequests,
    long BatchRequests,
    long BytesBeforeCompression,
    long BytesSent,
    long PendingCount,
    long EventsReplayed = 0,
    long EventsDurable = 0,
    long SpoolBytes = 0,
    long SpoolCorruptBytes = 0,
    Uri? Endpoint = null);
