namespace Instrumentation;

/// <summary>
/// The fixed set of reasons an event is dead-lettered: the <c>reason</c> tag of
/// <c>instrumentation.events.dead_lettered</c> and <see cref="DeadLetter.Reason"/>. The server's own text (a rejected
/// item's reason, a 400 body) never becomes a tag: it goes to the log and to <see cref="DeadLetter.Detail"/>.
/// </summary>
public static class DeadLetterReasons
{
    /// <summary>The collector rejected the event in a 2xx answer and said not to retry it.</summary>
    public const string Rejected = "rejected";

    /// <summary>The collector answered 400 (or another 4xx without a rule of its own) to the request carrying it.</summary>
    public const string BadRequest = "bad_request";

    /// <summary>The collector answered 413 to a request carrying only this event.</summary>
    public const string TooLarge = "too_large";

    /// <summary>It was answered 408/500/502/504 more than <see cref="LogManagerOptions.MaxRetryAttempts"/> times.</summary>
    public const string RetryBudgetExhausted = "retry_budget_exhausted";
}
