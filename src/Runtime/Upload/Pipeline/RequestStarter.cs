using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>
/// What the next request carries, and starting it: immediate events one by one; held batches whose backoff is over
/// first (merged, topped up, cut to a probe's size while the circuit is open, split after a 413), then new batches when
/// due, each as large as the backlog allows. It owns no state: it moves events between the lanes, the held batches and
/// the in-flight requests, which own theirs, on the upload loop's thread only (<see cref="UploadPipeline"/>).
/// </summary>
internal sealed class RequestStarter(
    LogManagerOptions options,
    TimeProvider timeProvider,
    ILogger logger,
    UploadLedger ledger,
    UploadScheduler scheduler,
    PendingEvents lanes,
    HeldBatches held,
    InFlightRequests requests,
    AnswerApplier answers)
{
    private readonly LogManagerOptions _options = options;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;
    private readonly UploadLedger _ledger = ledger;
    private readonly UploadScheduler _scheduler = scheduler;
    private readonly PendingEvents _lanes = lanes;
    private readonly HeldBatches _held = held;
    private readonly InFlightRequests _requests = requests;
    private readonly AnswerApplier _answers = answers;

    /// <summary>Starts immediate uploads while a slot is free; while immediate uploads may not try, moves their events to the batch lane.</summary>
    public void StartImmediate()
    {
        if (!_scheduler.ImmediateMayTry)
        {
            _lanes.MoveImmediateToBatch();
            return;
        }

        while (_scheduler.CanStartImmediate && _lanes.TakeImmediate() is { } item)
        {
            List<QueuedEvent> single = _requests.RentList(1);
            single.Add(item);
            Send(UploadKind.Single, single, attempts: 0);
        }
    }

    /// <summary>Starts batch requests while a slot is free: held batches whose backoff ended first, then new batches when due.</summary>
    public void StartBatches()
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        while (_scheduler.CanStartBatch)
        {
            // While the circuit is open the probe is the oldest held batch, whatever its own backoff: the probe's wait governs.
            if (_held.TakeDue(now, ignoreDue: _scheduler.IsOpen) is { } again)
            {
                if (_answers.SplitLimit > 0 && again.Items.Count > _answers.SplitLimit)
                {
                    _lanes.ReturnToFront(again.Items); // a 413 since: these go again in smaller requests
                    _requests.Recycle(again.Items);
                    continue;
                }

                if (_scheduler.IsOpen && again.Items.Count > _options.MaxBatchSize)
                {
                    // A probe carries at most MaxBatchSize events: while the endpoint is down (or a portal answers) each
                    // probe's body is sent for nothing. The rest goes back to the front of the batch lane, in order, so
                    // that when the circuit closes it is cut into full backlog batches again.
                    _lanes.ReturnToFront(again.Items.GetRange(_options.MaxBatchSize, again.Items.Count - _options.MaxBatchSize));
                    again.Items.RemoveRange(_options.MaxBatchSize, again.Items.Count - _options.MaxBatchSize);
                }

                // The retry is a request anyway: other held batches whose backoff is over join it, then it carries
                // waiting events along, due or not (no request more).
                int limit = BatchLimit();
                int attempts = again.Attempts;
                if (!_scheduler.IsOpen)
                {
                    attempts = Math.Max(attempts, _held.MergeDueInto(again.Items, now, limit, _options.MaxBatchBytes));
                }

                _lanes.TakeBatch(again.Items, limit, _options.MaxBatchBytes);

                Send(UploadKind.Batch, again.Items, attempts);
                continue;
            }

            if (_lanes.BatchCount == 0 || NewBatchDueAt() > now)
            {
                break;
            }

            List<QueuedEvent> batch = _requests.RentList(_options.MaxBatchSize);
            _lanes.TakeBatch(batch, BatchLimit(), _options.MaxBatchBytes);
            Send(UploadKind.Batch, batch, attempts: 0);
        }
    }

    private void Send(UploadKind kind, List<QueuedEvent> items, int attempts)
    {
        _scheduler.Started(kind);
        Log.RequestStarted(_logger, kind, items.Count, attempts, _scheduler.BatchesInFlight, _scheduler.ImmediatesInFlight, _scheduler.IsOpen ? "open" : "closed");
        _requests.Start(kind, items, attempts);
    }

    /// <summary>
    /// How many events the next batch may carry: <see cref="LogManagerOptions.MaxBatchSize"/>, or, when more than that
    /// already wait in the lane and in held batches (an outage, a burst, a spool replay), up to <see cref="LogManagerOptions.MaxBacklogBatchSize"/>
    /// (never more than the collector takes); while the circuit is open (a probe), <see cref="LogManagerOptions.MaxBatchSize"/>;
    /// after a 413, at most the split size.
    /// </summary>
    private int BatchLimit()
    {
        int limit = _lanes.BatchCount + _held.EventCount > _options.MaxBatchSize && !_scheduler.IsOpen
            ? Math.Max(_options.MaxBatchSize, Math.Min(_options.MaxBacklogBatchSize, UploadPipeline.CollectorMaxEventsPerBatch))
            : _options.MaxBatchSize;
        return _answers.SplitLimit > 0 ? Math.Min(limit, _answers.SplitLimit) : limit;
    }

    /// <summary>When the batch lane's next batch is due: at once when full (count or bytes), after a fallback or with a flush waiting, else its oldest event's age limit.</summary>
    public DateTimeOffset NewBatchDueAt() =>
        _lanes.BatchCount >= _options.MaxBatchSize || _lanes.BatchBytes >= _options.MaxBatchBytes || _lanes.FallenBackCount > 0 || _ledger.HasFlushWaiters
            ? DateTimeOffset.MinValue
            : _lanes.OldestBatchEventAt!.Value + _options.MaxWaitTime;
}
