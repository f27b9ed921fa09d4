using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>The uploader's diagnostics, as source-generated log methods.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Instrumentation uploader started: sending to {Endpoint} (batches of {MaxBatchSize} events or every {MaxWaitTime}).")]
    public static partial void Started(ILogger logger, Uri endpoint, int maxBatchSize, TimeSpan maxWaitTime);

    [LoggerMessage(2, LogLevel.Warning, "Upload to the collector failed (HTTP {StatusCode}, {Outcome}: {Detail}); the request's {RequestEvents} retried in {Delay}, {PendingEvents} waiting in all.")]
    public static partial void UploadFailed(ILogger logger, int statusCode, UploadOutcome outcome, string? detail, string requestEvents, TimeSpan delay, string pendingEvents);

    [LoggerMessage(14, LogLevel.Warning, "Upload to the collector failed (no answer: {Detail}); the request's {RequestEvents} retried in {Delay}, {PendingEvents} waiting in all.")]
    public static partial void UploadGotNoAnswer(ILogger logger, string? detail, string requestEvents, TimeSpan delay, string pendingEvents);

    /// <summary>Logs a failed upload: with its HTTP status, or without one when there was no answer (a network error).</summary>
    public static void UploadFailed(ILogger logger, UploadResponse response, int requestEvents, long pendingEvents, TimeSpan delay)
    {
        if (!logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        string request = requestEvents == 1 ? "1 event is" : requestEvents + " events are";
        string pending = pendingEvents == 1 ? "1 event" : pendingEvents + " events";
        if (response.Outcome == UploadOutcome.NetworkError || response.StatusCode == 0)
        {
            UploadGotNoAnswer(logger, response.Detail, request, delay, pending);
        }
        else
        {
            UploadFailed(logger, response.StatusCode, response.Outcome, response.Detail, request, delay, pending);
        }
    }

    [LoggerMessage(15, LogLevel.Debug, "Upload request started: {Kind}, {Events} events, {Failures} failures counted for its backoff; {BatchesInFlight} batch and {ImmediatesInFlight} immediate requests in flight; circuit {Circuit}.")]
    public static partial void RequestStarted(ILogger logger, UploadKind kind, int events, int failures, int batchesInFlight, int immediatesInFlight, string circuit);

    [LoggerMessage(16, LogLevel.Debug, "Upload request answered: {Kind}, {Events} events, {Outcome} (HTTP {StatusCode}) after {Duration}; its events wait {Delay}; endpoint ready at {ReadyAt:HH:mm:ss.fff}; circuit {Circuit}, {Failures} failures in a row.")]
    public static partial void RequestAnswered(ILogger logger, UploadKind kind, int events, UploadOutcome outcome, int statusCode, TimeSpan duration, TimeSpan delay, DateTimeOffset readyAt, string circuit, int failures);

    [LoggerMessage(3, LogLevel.Error, "The collector refused the API key (HTTP {StatusCode}). Uploads are paused and retried every {Delay}; events are kept (up to the queue caps) until a valid key is configured.")]
    public static partial void Unauthorized(ILogger logger, int statusCode, TimeSpan delay);

    [LoggerMessage(4, LogLevel.Warning, "{Count} events were dead-lettered ({Reason}; the server said: {Detail}). Further dead letters for this reason are counted on the 'instrumentation.events.dead_lettered' metric without another log line.")]
    public static partial void DeadLettered(ILogger logger, int count, string reason, string? detail);

    [LoggerMessage(5, LogLevel.Warning, "The event queue is full ({Reason}): the oldest batch events are being dropped. Further drops are counted on the 'instrumentation.events.dropped' metric.")]
    public static partial void Dropping(ILogger logger, string reason);

    [LoggerMessage(6, LogLevel.Warning, "The collector failed {Failures} times in a row: immediate events now join the batch, and the batch lane probes the collector after each backoff.")]
    public static partial void CircuitOpened(ILogger logger, int failures);

    [LoggerMessage(7, LogLevel.Information, "The collector answers again; uploads resumed.")]
    public static partial void CircuitClosed(ILogger logger);

    [LoggerMessage(8, LogLevel.Warning, "Shutdown: {Count} events could not be delivered within {Timeout} and are dropped.")]
    public static partial void ShutdownIncomplete(ILogger logger, long count, TimeSpan timeout);

    [LoggerMessage(11, LogLevel.Information, "Shutdown: {Count} events not yet delivered stay in the spool {Directory} and are sent at the next start.")]
    public static partial void LeftInSpool(ILogger logger, long count, string directory);

    [LoggerMessage(9, LogLevel.Error, "The dead-letter callback threw; the events it was given are still counted as dead-lettered.")]
    public static partial void DeadLetterCallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Error, "The upload loop failed unexpectedly and restarts.")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "The endpoint gave an answer that is not the collector's (HTTP {StatusCode}: {Detail}), as a captive portal or a proxy does; nothing counts as delivered and the events are retried (reason unexpected_response). Logged again only after the collector has answered properly.")]
    public static partial void UnexpectedResponse(ILogger logger, int statusCode, string? detail);

    [LoggerMessage(13, LogLevel.Warning, "The collector's answer named {Count} rejected items whose index was out of range or repeated (the request had {Events} events); they were ignored. Logged once.")]
    public static partial void IgnoredRejections(ILogger logger, int count, int events);
}
