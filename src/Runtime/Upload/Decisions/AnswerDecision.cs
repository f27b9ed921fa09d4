namespace Instrumentation.Upload;

/// <summary>What happens to one event of a request once its answer is in.</summary>
internal enum EventAction : byte
{
    /// <summary>The collector stored it: resolved as delivered.</summary>
    Deliver,

    /// <summary>It goes again: a failed immediate upload falls back to the batch lane, a batch event waits for its request's retry.</summary>
    Retry,

    /// <summary>The collector will never take it: resolved as dead-lettered, with <see cref="EventDecision.Reason"/>.</summary>
    DeadLetter,
}

/// <summary>What happens to the request as a whole (the scheduler's part of the answer).</summary>
internal enum RequestEffect
{
    /// <summary>The collector answered as it should: the circuit closes, full concurrency at once.</summary>
    Succeeded,

    /// <summary>A failure that delays only this request's events (backoff), and counts toward opening the circuit.</summary>
    RetryLater,

    /// <summary>A failure after which the whole endpoint waits (<c>Retry-After</c>, or a refused API key).</summary>
    PauseEndpoint,

    /// <summary>413 for several events: the same events go again at most half as many per request.</summary>
    Split,

    /// <summary>The request is over for good (400): its events are dead-lettered; nothing to wait for.</summary>
    Finished,
}

/// <summary>One event's decision: its action and, for a dead letter, the fixed reason and the server's text.</summary>
internal readonly record struct EventDecision(EventAction Action, string? Reason = null, string? Detail = null)
{
    public static readonly EventDecision Deliver = new(EventAction.Deliver);
    public static readonly EventDecision Retry = new(EventAction.Retry);

    public static EventDecision DeadLetter(string reason, string? detail = null) => new(EventAction.DeadLetter, reason, detail);
}

/// <summary>The decisions for one answered request.</summary>
/// <param name="Effect">What the request's answer means for the scheduler.</param>
/// <param name="Uniform">The decision for every event, unless <paramref name="PerEvent"/> says otherwise.</param>
/// <param name="PerEvent">One decision per event of the request, in request order, when they differ; else null (no array per request).</param>
/// <param name="ChargesRetryBudget">Whether every event of the request has used one attempt of its retry budget (a server error).</param>
/// <param name="SplitLimit">For <see cref="RequestEffect.Split"/>: the most events per request until these have gone through.</param>
/// <param name="IgnoredRejections">Items of the answer's <c>rejected</c> list whose index was out of range or repeated.</param>
internal sealed record AnswerDecision(
    RequestEffect Effect,
    EventDecision Uniform,
    IReadOnlyList<EventDecision>? PerEvent = null,
    bool ChargesRetryBudget = false,
    int SplitLimit = 0,
    int IgnoredRejections = 0)
{
    /// <summary>The decision for the event at <paramref name="index"/> of the request.</summary>
    public EventDecision For(int index) => PerEvent is { } perEvent ? perEvent[index] : Uniform;
}
