using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>
/// The batcher: one background loop that owns every piece of upload state, through parts with one job each. Producers
/// only hand events over (<see cref="EventInbox"/>, a lock-free enqueue); the loop serializes them (<see cref="UploadLedger"/> gives each an
/// ordinal), passes them through the spool in durable mode (<see cref="DurableStage"/>), routes immediate events to
/// their own uploads and batch events to the batch lane (<see cref="PendingEvents"/>), cuts batches on size, bytes or
/// age, starts as many requests as the <see cref="UploadScheduler"/> allows (<see cref="RequestStarter"/>, <see cref="InFlightRequests"/>), and
/// applies each answer (<see cref="AnswerApplier"/>). Because only the loop touches the state, none of it needs a lock.
/// </summary>
internal sealed class UploadPipeline
{
    /// <summary>How many events one pass of the loop takes from the hand-off before it turns to answers and uploads.</summary>
    private const int MaxTakenPerPass = 1024;

    /// <summary>The most events per batch the collector takes (docs/protocol.md, "Limits").</summary>
    public const int CollectorMaxEventsPerBatch = 1000;

    /// <summary>The largest request body the collector takes, after decompression (docs/protocol.md, "Limits").</summary>
    public const int CollectorMaxRequestBytes = 1024 * 1024;

    /// <summary>The hand-off holds at least this many events not yet taken by the loop.</summary>
    public const int InboxMinimumCapacity = 65_536;

    private readonly LogManagerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly UploadStatistics _statistics;
    private readonly ILogger _logger;
    private readonly UploadLedger _ledger;
    private readonly UploadScheduler _scheduler;
    private readonly PendingEvents _lanes;
    private readonly HeldBatches _held = new();
    private readonly InFlightRequests _requests;
    private readonly AnswerApplier _answers;
    private readonly RequestStarter _starter;
    private readonly DurableStage? _durable;
    private readonly AsyncSignal _signal = new();
    private readonly EventInbox _inbox;
    private readonly EventSerializer _serializer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<bool> _lanesHaveRoom;
    private readonly Action<QueuedEvent> _route;
    private Task _loop = Task.CompletedTask;
    private bool _loggedDropping;

    /// <summary>
    /// Builds the loop's parts; in durable mode opens the spool (which the pipeline then owns and closes). Tests may
    /// pass a durable queue to use instead of opening <see cref="LogManagerOptions.SpoolDirectory"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The spool directory cannot be used.</exception>
    public UploadPipeline(LogManagerOptions options, IUploadTransport transport, TimeProvider timeProvider, UploadStatistics statistics, ILogger logger, Random? random = null, Spool.IDurableQueue? spool = null)
    {
        _options = options;
        _timeProvider = timeProvider;
        _statistics = statistics;
        _logger = logger;
        if (spool is null && options.SpoolDirectory is not null)
        {
            spool = Spool.SpoolDirectory.Open(options, timeProvider.GetUtcNow(), logger);
            if (spool.ReplayedCount > 0)
            {
                Spool.SpoolLog.Replaying(logger, spool.ReplayedCount, options.SpoolDirectory);
            }
        }

        if (spool is not null)
        {
            statistics.Spool(spool.TotalBytes, spool.CorruptBytes);
        }

        _ledger = new UploadLedger(statistics, spool?.ReplayedCount ?? 0);
        _inbox = new EventInbox(EventInbox.CapacityFor(options.MaxQueuedEvents, InboxMinimumCapacity), _signal);
        _scheduler = new UploadScheduler(options, timeProvider, random ?? Random.Shared);
        _lanes = new PendingEvents(options);
        _requests = new InFlightRequests(transport, timeProvider, _signal);
        _durable = spool is null ? null : new DurableStage(spool, options, _ledger, statistics, timeProvider, _lanes);
        _answers = new AnswerApplier(options, timeProvider, logger, statistics, _ledger, _scheduler, _lanes, _held, _requests, _durable, () => PendingCount);
        _starter = new RequestStarter(options, timeProvider, logger, _ledger, _scheduler, _lanes, _held, _requests, _answers);
        _serializer = new EventSerializer(options);
        _lanesHaveRoom = () => _lanes.TotalCount < _options.MaxQueuedEvents && _lanes.TotalBytes < _options.MaxQueuedBytes;
        _route = Route;
    }

    /// <summary>Whether recording waits for the disk (<see cref="SpoolFlushPolicy.Always"/> with a spool).</summary>
    public bool WaitsForDisk => _durable is not null && _options.SpoolFlushPolicy == SpoolFlushPolicy.Always;

    /// <summary>Events accepted and not yet delivered, dead-lettered or dropped.</summary>
    public long PendingCount => Accepted - _ledger.ResolvedCount;

    /// <summary>Events accepted so far: replayed ones, and every one that entered the hand-off.</summary>
    private long Accepted => _ledger.Replayed + _inbox.EnqueuedCount;

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Hands an event to the loop. Called on the application's thread: never blocks, never throws.</summary>
    public bool Enqueue(LogEventPayload payload) => Enqueue(payload, out _);

    /// <summary>
    /// <see cref="SpoolFlushPolicy.Always"/>: hands the event over, then waits until the spool has committed its
    /// ordinal (the loop's group commit; concurrent callers share one fsync). A serialization or spool failure
    /// settles the ordinal too, and so does shutdown: the caller never waits for a commit that cannot come.
    /// </summary>
    public void EnqueueAndWaitDurable(LogEventPayload payload)
    {
        if (Enqueue(payload, out long ordinal))
        {
            _durable!.WaitForCommit(ordinal);
        }
    }

    private bool Enqueue(LogEventPayload payload, out long ordinal)
    {
        if (!_inbox.TryEnqueue(payload, out long position))
        {
            ordinal = 0;
            return false;
        }

        // The loop is the hand-off's only consumer, so it takes events, and numbers them, in this order.
        ordinal = _ledger.Replayed + position + 1;
        return true;
    }

    /// <summary>Sends everything accepted so far and completes when each of those events is resolved.</summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        Task flushed = _ledger.WaitForAsync(Accepted, cancellationToken);
        _signal.Set();
        return flushed;
    }

    /// <summary>
    /// Flushes within <paramref name="timeout"/> (when the loop was started: nothing else would send), stops the loop,
    /// and counts what is left as dropped (durable mode: leaves it in the spool, which it closes).
    /// </summary>
    public async Task StopAsync(TimeSpan timeout, bool started = true)
    {
        if (started)
        {
            using var deadline = new CancellationTokenSource(timeout, _timeProvider);
            try
            {
                await FlushAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Reported below with the count of what is left.
            }
        }

        _stop.Cancel();
        _requests.Abort();
        await _loop.ConfigureAwait(false);

        // The loop has stopped: this thread owns the state now. Answers that came in meanwhile are applied when they
        // settle their events (a delivery is not then counted as a shutdown drop, nor, in durable mode, left
        // unacknowledged in the spool to be sent again); events still in the hand-off are taken, so that in durable
        // mode they reach the spool, and in memory mode they get an ordinal the drop below can count.
        while (_requests.TryTakeCompletion(out Completion? completion))
        {
            if (completion!.Response.Outcome is UploadOutcome.Accepted or UploadOutcome.BadRequest or UploadOutcome.TooLarge)
            {
                _answers.Apply(completion);
            }
        }

        while (_inbox.TryTake(out LogEventPayload? payload))
        {
            Take(payload!);
        }

        ReportRefused();
        _durable?.Stop(_ledger.Taken);

        long inMemoryOnly = _durable?.DropInMemoryOnly(DropReasons.Shutdown) ?? 0;
        if (inMemoryOnly > 0)
        {
            Log.ShutdownIncomplete(_logger, inMemoryOnly, timeout); // their spool write had failed: not in the spool
        }

        long left = PendingCount;
        if (left > 0 && _durable is not null)
        {
            Log.LeftInSpool(_logger, left, _options.SpoolDirectory!);
        }
        else if (left > 0)
        {
            // Counted through the ledger like every other end: the statistics then show them dropped, not pending.
            long dropped = _ledger.DropUnresolved(DropReasons.Shutdown);
            Log.ShutdownIncomplete(_logger, dropped, timeout);
        }

        _ledger.CancelFlushWaiters();
        _serializer.Dispose();
        _stop.Dispose();
        _requests.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                _inbox.Rearm();
                RunOnce();
                await _signal.WaitAsync(NextDeadline(), _timeProvider, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                Log.LoopFailed(_logger, exception);
                await Task.Delay(TimeSpan.FromSeconds(1), _timeProvider, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One pass: apply answers, take new events, honour caps, start what may start, complete flushes.</summary>
    private void RunOnce()
    {
        while (_requests.TryTakeCompletion(out Completion? completion))
        {
            _answers.Apply(completion!);
        }

        // A bounded share per pass: under a constant stream of events the loop must still apply answers and start
        // uploads (an unbounded drain would starve them while the hand-off never empties).
        for (int taken = 0; taken < MaxTakenPerPass && _inbox.TryTake(out LogEventPayload? payload); taken++)
        {
            Take(payload!);
        }

        ReportRefused();

        _ledger.CollectFlushRequests();
        if (_durable is not null)
        {
            // Every ordinal taken so far is appended, kept in memory after a failed write, or dropped: all settled.
            _durable.Commit(_ledger.Taken);
            _durable.Trim();
            _durable.Refill(_lanesHaveRoom, _route);
        }

        DropOverCaps();
        _starter.StartImmediate();
        _starter.StartBatches();
        _ledger.CompleteFlushWaiters();
    }

    /// <summary>Refusals happen on recording threads, which only bump a counter; the loop reports them.</summary>
    private void ReportRefused()
    {
        int refused = _inbox.TakeRefusedCount();
        if (refused > 0)
        {
            _ledger.Refused(refused);
        }
    }

    private void Take(LogEventPayload payload)
    {
        long ordinal = _ledger.Take();
        DateTimeOffset now = _timeProvider.GetUtcNow();
        if (!_serializer.TryWrite(payload, out ReadOnlySpan<byte> json))
        {
            _ledger.Resolve(ordinal, Resolution.Dropped, DropReasons.SerializationFailed); // counted; the loop goes on
            payload.Release();
            return;
        }

        DateTimeOffset recordedAt = payload.Timestamp == default ? now : payload.Timestamp;
        if (_durable is not null)
        {
            _durable.Append(ordinal, payload.EventId, payload.EventType, payload.Priority, recordedAt, json);
            payload.Release(); // it reaches the lanes through the spool, or from memory when the spool refused it (Refill)
            return;
        }

        QueuedEvent item = QueuedEvent.Rent(ordinal, payload.EventId, payload.EventType, payload.Priority, json, now);
        payload.Release(); // its JSON is written: the payload object can serve the next event
        Route(item);
    }

    /// <summary>Puts an event in its lane: immediate events on their own unless they may not try now, else the batch.</summary>
    private void Route(QueuedEvent item)
    {
        if (item.Priority == Priority.Immediate && _scheduler.ImmediateMayTry)
        {
            _lanes.AddToImmediate(item);
        }
        else
        {
            _lanes.AddToBatch(item);
        }
    }

    private void DropOverCaps()
    {
        List<(QueuedEvent Event, string Reason)>? dropped = _lanes.EnforceCaps();
        if (dropped is null)
        {
            return;
        }

        if (!_loggedDropping)
        {
            _loggedDropping = true;
            Log.Dropping(_logger, dropped[0].Reason);
        }

        foreach ((QueuedEvent item, string reason) in dropped)
        {
            _answers.Resolve(item, Resolution.Dropped, reason);
        }
    }

    /// <summary>How long the loop may sleep: until a batch or a held batch is due, the endpoint is ready, or the spool needs a sync.</summary>
    private DateTimeOffset? NextDeadline()
    {
        if (_inbox.HasWaiting)
        {
            return DateTimeOffset.MinValue; // events are still waiting in the hand-off: another pass at once
        }

        DateTimeOffset? next = _durable?.NextSyncDue;
        if (_scheduler.BatchSlotFree)
        {
            // Answers, new events and flushes wake the loop themselves; only the clock's own deadlines are set here.
            DateTimeOffset ready = _scheduler.ReadyAt;
            if (_held.NextDue is { } heldDue)
            {
                next = Earliest(next, Latest(_scheduler.IsOpen ? ready : heldDue, ready));
            }

            if (_lanes.BatchCount > 0)
            {
                next = Earliest(next, Latest(_starter.NewBatchDueAt(), ready));
            }
        }

        return next;
    }

    private static DateTimeOffset Latest(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Earliest(DateTimeOffset? a, DateTimeOffset b) => a is { } value && value < b ? value : b;
}
