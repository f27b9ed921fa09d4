namespace Instrumentation.Upload;

/// <summary>
/// The collector's answer turned into decisions (docs/protocol.md, "Responses"; docs/configuration.md, "What each
/// answer does"). A pure function of the request and its answer: no HTTP, no clock, no state, so every rule is a row
/// of a table test.
/// </summary>
internal static class AnswerDecider
{
    private static readonly AnswerDecision DeliverAll = new(RequestEffect.Succeeded, EventDecision.Deliver);
    private static readonly AnswerDecision RetryAll = new(RequestEffect.RetryLater, EventDecision.Retry);

    /// <summary>Decides what the answer means for the request and each of its events.</summary>
    /// <param name="count">How many events the request carried.</param>
    /// <param name="serverErrorAttempts">For the event at an index of the request: how many times it was already answered with a server error.</param>
    /// <param name="maxRetryAttempts">The retry budget (<see cref="LogManagerOptions.MaxRetryAttempts"/>).</param>
    /// <param name="response">The answer.</param>
    public static AnswerDecision Decide(int count, Func<int, int> serverErrorAttempts, int maxRetryAttempts, UploadResponse response)
    {
        switch (response.Outcome)
        {
            case UploadOutcome.Accepted:
                return Accepted(count, response.Rejected);
            case UploadOutcome.TooLarge when count == 1:
                return new AnswerDecision(RequestEffect.Finished, EventDecision.DeadLetter(DeadLetterReasons.TooLarge, response.Detail));
            case UploadOutcome.TooLarge:
                return new AnswerDecision(RequestEffect.Split, EventDecision.Retry, SplitLimit: Math.Max(1, count / 2));
            case UploadOutcome.BadRequest:
                return new AnswerDecision(RequestEffect.Finished, EventDecision.DeadLetter(DeadLetterReasons.BadRequest, response.Detail));
            case UploadOutcome.ServerError:
                var events = new EventDecision[count];
                for (int i = 0; i < count; i++)
                {
                    events[i] = serverErrorAttempts(i) + 1 > maxRetryAttempts
                        ? EventDecision.DeadLetter(DeadLetterReasons.RetryBudgetExhausted, $"HTTP {response.StatusCode}")
                        : EventDecision.Retry;
                }

                return new AnswerDecision(RequestEffect.RetryLater, EventDecision.Retry, events, ChargesRetryBudget: true);
            case UploadOutcome.Throttled when response.RetryAfter is not null:
            case UploadOutcome.Unauthorized:
                return new AnswerDecision(RequestEffect.PauseEndpoint, EventDecision.Retry);
            default:
                // Network error, 429/503 without Retry-After, an answer that is not the collector's: keep every event.
                return RetryAll;
        }
    }

    private static AnswerDecision Accepted(int count, IReadOnlyList<RejectedItem> rejected)
    {
        if (rejected.Count == 0)
        {
            return DeliverAll;
        }

        var events = new EventDecision[count];
        Array.Fill(events, EventDecision.Deliver);
        bool[] seen = new bool[count];
        int ignored = 0;
        foreach (RejectedItem item in rejected)
        {
            if (item.Index < 0 || item.Index >= count || seen[item.Index])
            {
                ignored++; // not an event of this request, or named twice: the answer cannot change what it said first
                continue;
            }

            seen[item.Index] = true;
            events[item.Index] = item.Retryable ? EventDecision.Retry : EventDecision.DeadLetter(DeadLetterReasons.Rejected, item.Reason);
        }

        return new AnswerDecision(RequestEffect.Succeeded, EventDecision.Deliver, events, IgnoredRejections: ignored);
    }
}
