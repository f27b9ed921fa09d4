using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>What the loop does with the collector's answer to each upload (docs/protocol.md, "Responses").</summary>
internal sealed partial class UploadPipeline
{
    private readonly HashSet<string> _loggedDeadLetterReasons = new(StringComparer.Ordinal);
    private bool _loggedDropping;
    private bool _loggedUnauthorized;

    /// <summary>The last event of a request answered 413: batches stay at the reduced size until it has gone through.</summary>
    private long _splitThrough;

    private void Apply(Completion completion)
    {
        if (completion.PooledBody is { } body)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(body); // the request is over: nothing reads the body any more
        }

        _statistics.Answered(completion.Kind, completion.Response.Outcome, completion.Items.Count, completion.Duration);
        if (completion.Kind == UploadKind.Single)
        {
            _immediateInFlight--;
            ApplyImmediate(completion.Items[0], completion.Response);
        }
        else
        {
            _batchInFlight = false;
            ApplyBatch(completion.Items, completion.Response);
        }

        completion.Items.Clear();
        _freeLists.Push(completion.Items);
    }

    private void ApplyImmediate(QueuedEvent item, UploadResponse response)
    {
        switch (response.Outcome)
        {
            case UploadOutcome.Accepted:
                Succeeded();
                if (response.Rejected.FirstOrDefault(r => r.Index == 0) is { Reason: not null } rejected)
                {
                    _pending.Release(item);
                    if (rejected.Retryable)
                    {
                        FallBack(item);
                    }
                    else
                    {
                        DeadLetter([item], "rejected: " + rejected.Reason, inFlight: false);
                    }
                }
                else
                {
                    Delivered(item);
                }

                break;
            case UploadOutcome.TooLarge:
                DeadLetter([item], "too_large");
                break;
            case UploadOutcome.BadRequest:
                DeadLetter([item], "bad_request: " + response.Detail);
                break;
            default:
                // Network error, server error, throttling, refused key: the event joins the batch with the same id.
                Failed(response, 1);
                _pending.Release(item);
                if (response.Outcome == UploadOutcome.ServerError && ++item.ServerErrorAttempts > _options.MaxRetryAttempts)
                {
                    DeadLetter([item], "retry_budget_exhausted", inFlight: false);
                }
                else
                {
                    FallBack(item);
                }

                break;
        }
    }

    private void ApplyBatch(List<QueuedEvent> batch, UploadResponse response)
    {
        switch (response.Outcome)
        {
            case UploadOutcome.Accepted:
                Succeeded();
                if (batch[^1].Ordinal >= _splitThrough)
                {
                    _batchLimit = _options.MaxBatchSize; // every event of the oversized request has gone through
                }

                if (response.Rejected.Count == 0)
                {
                    foreach (QueuedEvent item in batch)
                    {
                        Delivered(item);
                    }

                    break;
                }

                var requeue = new List<QueuedEvent>();
                var refused = new List<(QueuedEvent, string)>();
                var byIndex = new Dictionary<int, RejectedItem>();
                foreach (RejectedItem rejected in response.Rejected)
                {
                    byIndex.TryAdd(rejected.Index, rejected);
                }

                for (int i = 0; i < batch.Count; i++)
                {
                    if (!byIndex.TryGetValue(i, out RejectedItem rejected))
                    {
                        Delivered(batch[i]);
                    }
                    else if (rejected.Retryable)
                    {
                        requeue.Add(batch[i]);
                    }
                    else
                    {
                        refused.Add((batch[i], "rejected: " + rejected.Reason));
                    }
                }

                foreach (IGrouping<string, (QueuedEvent Item, string Reason)> group in refused.GroupBy(r => r.Item2))
                {
                    DeadLetter([.. group.Select(r => r.Item)], group.Key);
                }

                Requeue(requeue);
                break;
            case UploadOutcome.TooLarge when batch.Count == 1:
                DeadLetter(batch, "too_large");
                break;
            case UploadOutcome.TooLarge:
                // Split in halves: the same events go again, at most half as many per request, until one succeeds.
                _batchLimit = Math.Max(1, batch.Count / 2);
                _splitThrough = Math.Max(_splitThrough, batch[^1].Ordinal);
                Requeue(batch);
                break;
            case UploadOutcome.BadRequest:
                DeadLetter(batch, "bad_request: " + response.Detail);
                break;
            case UploadOutcome.ServerError:
                Failed(response, batch.Count);
                var spent = new List<QueuedEvent>();
                var again = new List<QueuedEvent>();
                foreach (QueuedEvent item in batch)
                {
                    (++item.ServerErrorAttempts > _options.MaxRetryAttempts ? spent : again).Add(item);
                }

                DeadLetter(spent, "retry_budget_exhausted");
                Requeue(again);
                break;
            default:
                // Network error, throttling, refused key: keep every event, in order, for the next attempt.
                Failed(response, batch.Count);
                Requeue(batch);
                break;
        }
    }

    private void Succeeded()
    {
        _loggedUnauthorized = false;
        if (_retry.OnSuccess())
        {
            Log.CircuitClosed(_logger);
        }
    }

    private void Failed(UploadResponse response, int events)
    {
        bool wasOpen = _retry.IsOpen;
        TimeSpan delay = _retry.OnFailure(response.Outcome, response.RetryAfter);
        if (response.Outcome == UploadOutcome.Unauthorized)
        {
            if (!_loggedUnauthorized)
            {
                _loggedUnauthorized = true;
                Log.Unauthorized(_logger, response.StatusCode, delay);
            }
        }
        else
        {
            Log.UploadFailed(_logger, response, events, PendingCount, delay);
        }

        if (!wasOpen && _retry.IsOpen)
        {
            Log.CircuitOpened(_logger, _retry.ConsecutiveFailures);
        }
    }

    private void FallBack(QueuedEvent item)
    {
        _statistics.Retried(1);
        _pending.AddToBatch(item);
    }

    private void Requeue(List<QueuedEvent> items)
    {
        if (items.Count > 0)
        {
            _statistics.Retried(items.Count);
            _pending.ReturnToFront(items);
        }
    }

    private void Delivered(QueuedEvent item)
    {
        _pending.Release(item);
        _statistics.Uploaded(1);
        Resolve(item);
    }

    private void DeadLetter(List<QueuedEvent> items, string reason, bool inFlight = true)
    {
        if (items.Count == 0)
        {
            return;
        }

        // Copied before the entries go back to their pool.
        DeadLetter[]? letters = _options.OnDeadLetter is null ? null : [.. items.Select(i => new DeadLetter(i.Id, i.Type, reason, i.Json.ToArray()))];
        foreach (QueuedEvent item in items)
        {
            if (inFlight)
            {
                _pending.Release(item);
            }

            Resolve(item);
        }

        _statistics.DeadLettered(items.Count, reason);
        if (_loggedDeadLetterReasons.Add(reason))
        {
            Log.DeadLettered(_logger, items.Count, reason);
        }

        if (letters is not null)
        {
            try
            {
                _options.OnDeadLetter!(letters);
            }
            catch (Exception exception)
            {
                Log.DeadLetterCallbackFailed(_logger, exception);
            }
        }
    }

    /// <summary>The event is done (delivered, dead-lettered or dropped): count it and give its entry back.</summary>
    private void Resolve(QueuedEvent item)
    {
        _spool?.Resolved(item);
        _window.Resolve(item.Ordinal);
        Interlocked.Increment(ref _resolved);
        item.Return();
    }
}
