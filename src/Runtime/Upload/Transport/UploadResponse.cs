namespace Instrumentation.Upload;

/// <summary>What the collector's answer means for the events of a request.</summary>
internal enum UploadOutcome
{
    /// <summary>2xx with an empty body or the documented answer: stored (maybe with some items rejected, see <see cref="UploadResponse.Rejected"/>).</summary>
    Accepted,

    /// <summary>408, 500, 502, 504: retry with backoff, using the retry budget.</summary>
    ServerError,

    /// <summary>429, 503: wait as long as <c>Retry-After</c> says (clamped), then retry; no budget used.</summary>
    Throttled,

    /// <summary>No answer: connection refused or dropped, timeout. Retry with backoff; no budget used.</summary>
    NetworkError,

    /// <summary>413: split the batch and retry; a single event is dead-lettered.</summary>
    TooLarge,

    /// <summary>400 (and other 4xx): the request will never be accepted; its events are dead-lettered.</summary>
    BadRequest,

    /// <summary>401, 403: pause with the longest backoff and keep the events until a valid key recovers them.</summary>
    Unauthorized,

    /// <summary>
    /// An answer that is not the collector's: a redirect (a captive portal's login page), a 2xx whose body is not the
    /// documented answer, or an answer larger than <see cref="HttpUploadTransport.MaxAnswerBytes"/>. Nothing counts as
    /// delivered; the events are retried with backoff (no budget used).
    /// </summary>
    UnexpectedResponse,
}

/// <summary>One item of a 2xx answer's <c>rejected</c> list.</summary>
internal readonly record struct RejectedItem(int Index, string Reason, bool Retryable);

/// <summary>The collector's answer to one request.</summary>
internal sealed record UploadResponse(
    UploadOutcome Outcome,
    int StatusCode,
    TimeSpan? RetryAfter,
    IReadOnlyList<RejectedItem> Rejected,
    string? Detail)
{
    public static UploadResponse Network(string detail) => new(UploadOutcome.NetworkError, 0, null, [], detail);

    public static UploadResponse Unexpected(int status, string detail) => new(UploadOutcome.UnexpectedResponse, status, null, [], detail);
}
