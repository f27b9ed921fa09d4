using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>
/// Carries out the decisions for each answered request (<see cref="AnswerDecider"/>): resolves delivered and
/// dead-lettered events in the ledger, holds a failed request's events for their backoff, puts others back in the
/// batch lane, tells the scheduler, and logs each kind of trouble once. Owns the split state after a 413 and the
/// log-once flags. Used only by the pipeline's loop; <c>pendingCount</c> reads every event still waiting, for the logs.
/// </summary>
internal sealed class AnswerApplier(
    LogManagerOptions options,
    TimeProvider timeProvider,
    ILogger logger,
    UploadStatistics statistics,
    UploadLedger ledger,
    UploadScheduler scheduler,
    PendingEvents lanes,
    HeldBatches held,
    InFlightRequests requests,
    DurableStage? durable,
    Func<long> pendingCount)
{
    private readonly HashSet<string> _loggedDeadLetterReasons = new(StringComparer.Ordinal);
    private bool _loggedUnauthorized;
    private bool _loggedUnexpected;
    private bool _loggedIgnoredRejections;

    /// <summary>The last event of a request answered 413: batches stay at <see cref="SplitLimit"/> until it has gone through.</summary>
    private long _splitThrough;

    /// <summary>After a 413: the most events per batch request, until the split events have gone through; 0 when no split is active.</summary>
    public int SplitLimit { get; private set; }

    public void Apply(Completion completion)
    {
        List<QueuedEvent> items = completion.Items;
        UploadResponse response = completion.Response;
        statistics.Answered(completion.Kind, response.Outcome, items.Count, completion.Duration);
        scheduler.Finished(completion.Kind);
        AnswerDecision decision = AnswerDecider.Decide(items.Count, i => items[i].ServerErrorAttempts, options.MaxRetryAttempts, response);
        if (decision.IgnoredRejections > 0 && !_loggedIgnoredRejections)
        {
            _loggedIgnoredRejections = true;
            Log.IgnoredRejections(logger, decision.IgnoredRejections, items.Count);
        }

        TimeSpan delay = TimeSpan.Zero;
        switch (decision.Effect)
        {
            case RequestEffect.Succeeded:
                Succeeded(completion);
                break;
            case RequestEffect.RetryLater:
            case RequestEffect.PauseEndpoint:
                delay = Failed(decision.Effect, response, items.Count, completion.Attempts + 1);
                break;
            case RequestEffect.Split:
                // Several requests may be in flight when the first 413 comes: a larger one started before the split
                // and answered 413 after it must not raise the limit back (only the first answer sets it).
                SplitLimit = SplitLimit > 0 ? Math.Min(SplitLimit, decision.SplitLimit) : decision.SplitLimit;
                _splitThrough = Math.Max(_splitThrough, items[^1].Ordinal);
                break;
        }

        Log.RequestAnswered(logger, completion.Kind, items.Count, response.Outcome, response.StatusCode, completion.Duration, delay, scheduler.ReadyAt, scheduler.IsOpen ? "open" : "closed", scheduler.ConsecutiveFailures);
        if (decision.ChargesRetryBudget)
        {
            foreach (QueuedEvent item in items)
            {
                item.ServerErrorAttempts++;
            }
        }

        List<QueuedEvent>? retry = null;
        List<(QueuedEvent Item, EventDecision Decision)>? refused = null;
        for (int i = 0; i < items.Count; i++)
        {
            QueuedEvent item = items[i];
            EventDecision verdict = decision.For(i);
            switch (verdict.Action)
            {
                case EventAction.Deliver:
                    lanes.Release(item);
                    Resolve(item, Resolution.Delivered);
                    break;
                case EventAction.DeadLetter:
                    lanes.Release(item);
                    (refused ??= []).Add((item, verdict));
                    break;
                default:
                    (retry ??= []).Add(item);
                    break;
            }
        }

        if (refused is not null)
        {
            DeadLetter(refused);
        }

        if (retry is not null)
        {
            Retry(completion, retry, decision.Effect, delay);
        }

        requests.Recycle(items);
    }

    /// <summary>The event is done: the ledger counts it, the spool may delete it, its entry goes back to the pool.</summary>
    public void Resolve(QueuedEvent item, Resolution resolution, string? reason = null)
    {
        durable?.Acknowledge(item);
        ledger.Resolve(item.Ordinal, resolution, reason);
        item.Return();
    }

    private void Succeeded(Completion completion)
    {
        _loggedUnauthorized = false;
        _loggedUnexpected = false;
        if (scheduler.OnSuccess())
        {
            Log.CircuitClosed(logger);
            held.ReleaseAll(timeProvider.GetUtcNow()); // full concurrency at once, for the held backlog too
        }

        if (completion.Kind == UploadKind.Batch && SplitLimit > 0 && completion.Items[^1].Ordinal >= _splitThrough)
        {
            SplitLimit = 0; // every event of the oversized request has gone through
        }
    }

    private TimeSpan Failed(RequestEffect effect, UploadResponse response, int events, int attempts)
    {
        bool wasOpen = scheduler.IsOpen;
        TimeSpan delay = scheduler.OnFailure(effect, response, attempts);
        if (response.Outcome == UploadOutcome.Unauthorized)
        {
            if (!_loggedUnauthorized)
            {
                _loggedUnauthorized = true;
                Log.Unauthorized(logger, response.StatusCode, delay);
            }
        }
        else if (response.Outcome == UploadOutcome.UnexpectedResponse)
        {
            if (!_loggedUnexpected)
            {
                _loggedUnexpected = true; // again only after the collector has answered properly in between
                Log.UnexpectedResponse(logger, response.StatusCode, response.Detail);
            }
        }
        else
        {
            Log.UploadFailed(logger, response, events, pendingCount(), delay);
        }

        if (!wasOpen && scheduler.IsOpen)
        {
            Log.CircuitOpened(logger, scheduler.ConsecutiveFailures);
        }

        return delay;
    }

    private void Retry(Completion completion, List<QueuedEvent> retry, RequestEffect effect, TimeSpan delay)
    {
        statistics.Retried(retry.Count);
        if (effect is RequestEffect.RetryLater or RequestEffect.PauseEndpoint)
        {
            // A failure delays only its own events: they wait, as one request, for their backoff (still in flight for
            // the caps). A failed immediate event then goes with the batch, with the same id.
            List<QueuedEvent> again = requests.RentList(retry.Count);
            again.AddRange(retry);
            // Its backoff grows with its own failures; a wait the server asked for (Retry-After) is not one of them.
            held.Hold(again, UploadScheduler.IsServerWait(effect, completion.Response) ? completion.Attempts : completion.Attempts + 1, timeProvider.GetUtcNow() + delay);
        }
        else if (completion.Kind == UploadKind.Single)
        {
            // An immediate event the collector asked to send again joins the batch lane (it makes the next batch due).
            lanes.Release(retry[0]);
            lanes.AddToBatch(retry[0]);
        }
        else
        {
            // Split, or items the collector asked to send again: back to the front of the batch lane, in their order.
            lanes.ReturnToFront(retry);
        }
    }

    private void DeadLetter(List<(QueuedEvent Item, EventDecision Decision)> refused)
    {
        foreach (IGrouping<string, (QueuedEvent Item, EventDecision Decision)> group in refused.GroupBy(r => r.Decision.Reason!))
        {
            string? detail = group.First().Decision.Detail;
            if (_loggedDeadLetterReasons.Add(group.Key))
            {
                Log.DeadLettered(logger, group.Count(), group.Key, detail);
            }

            // Copied before the entries go back to their pool.
            DeadLetter[]? letters = options.OnDeadLetter is null
                ? null
                : [.. group.Select(r => new DeadLetter(r.Item.Id, r.Item.Type, group.Key, r.Item.Json.ToArray(), r.Decision.Detail))];
            foreach ((QueuedEvent item, _) in group)
            {
                Resolve(item, Resolution.DeadLettered, group.Key);
            }

            if (letters is not null)
            {
                try
                {
                    options.OnDeadLetter!(letters);
                }
                catch (Exception exception)
                {
                    Log.DeadLetterCallbackFailed(logger, exception);
                }
            }
        }
    }
}
