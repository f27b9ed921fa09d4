using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>
/// The batcher: one background loop that owns every piece of upload state. Producers only hand events over (an
/// in-memory enqueue); the loop serializes them, routes immediate events to their own uploads and batch events to
/// the batch lane, cuts batches on size, bytes or age, starts uploads, and applies each answer (retry, split,
/// dead-letter, fall back). Because only the loop touches the state, none of it needs a lock.
/// </summary>
internal sealed partial class UploadPipeline
{
    private readonly LogManagerOptions _options;
    private readonly IUploadTransport _transport;
    private readonly TimeProvider _timeProvider;
    private readonly UploadStatistics _statistics;
    private readonly ILogger _logger;
    private readonly RetryPolicy _retry;
    private readonly PendingEvents _pending;
    private readonly AsyncSignal _signal = new();
    private readonly Pooling.BoundedQueue<LogEventPayload> _inbox;
    private readonly ConcurrentQueue<Completion> _completions = new();
    private readonly ConcurrentQueue<FlushWaiter> _flushRequests = new();
    private readonly List<FlushWaiter> _flushWaiters = [];
    private readonly ResolutionWindow _window = new();
    private readonly Stack<List<QueuedEvent>> _freeLists = new();
    private readonly KeyValuePair<string, string>[] _staticContext;
    private readonly ArrayBufferWriter<byte> _serializationBuffer = new(1024);
    private readonly Utf8JsonWriter _serializer;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abortUploads = new();
    private Spool.EventSpool? _spool;
    private Task _loop = Task.CompletedTask;

    private long _acceptedBase;
    private long _inboxFull;
    private long _inboxFullReported;
    private long _taken;
    private long _resolved;
    private int _wakeRequested;
    private bool _batchInFlight;
    private int _immediateInFlight;
    private int _batchLimit;

    public UploadPipeline(LogManagerOptions options, IUploadTransport transport, TimeProvider timeProvider, UploadStatistics statistics, ILogger logger, Spool.EventSpool? spool = null, Random? random = null)
    {
        _spool = spool;
        _inbox = new Pooling.BoundedQueue<LogEventPayload>((int)Math.Min(1 << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(options.MaxQueuedEvents, InboxMinimumCapacity))));
        if (spool is not null)
        {
            // Replayed events take the first ordinals: a flush waits for them as for any pending event.
            _acceptedBase = _taken = spool.ReplayedCount;
            statistics.Replayed(spool.ReplayedCount);
            statistics.Spool(spool.TotalBytes, spool.CorruptBytes);
        }

        _options = options;
        _transport = transport;
        _timeProvider = timeProvider;
        _statistics = statistics;
        _logger = logger;
        _retry = new RetryPolicy(options, timeProvider, random ?? Random.Shared);
        _pending = new PendingEvents(options);
        _staticContext = [.. options.Context];
        _serializer = new Utf8JsonWriter(_serializationBuffer);
        _batchLimit = options.MaxBatchSize;
    }

    /// <summary>How many events one pass of the loop takes from the hand-off before it turns to answers and uploads.</summary>
    private const int MaxTakenPerPass = 1024;

    /// <summary>The hand-off holds at least this many events not yet taken by the loop.</summary>
    public const int InboxMinimumCapacity = 65_536;

    /// <summary>Events accepted and not yet delivered, dead-lettered or dropped.</summary>
    public long PendingCount => Accepted - Volatile.Read(ref _resolved);

    /// <summary>Events accepted so far: replayed or re-appended ones, and every one that entered the hand-off.</summary>
    private long Accepted => Volatile.Read(ref _acceptedBase) + _inbox.EnqueuedCount;

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Hands an event to the loop. Called on the application's thread: never blocks, never throws.</summary>
    public bool Enqueue(LogEventPayload payload)
    {
        if (!_inbox.TryEnqueue(payload))
        {
            // The loop is not keeping up with serialization: refuse the newest rather than grow without bound.
            // (Normal bursts fit: the caps, and their oldest-batch-first policy, apply once the loop takes events.)
            Interlocked.Increment(ref _inboxFull);
            payload.Release();
            return false;
        }

        // Only the first event after the loop went to sleep pays for the wake-up; the rest see the flag and go.
        if (Volatile.Read(ref _wakeRequested) == 0 && Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            _signal.Set();
        }

        return true;
    }

    /// <summary>Sends everything accepted so far and completes when each of those events is resolved.</summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        var waiter = new FlushWaiter(Accepted);
        _flushRequests.Enqueue(waiter);
        _signal.Set();
        return waiter.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Flushes within <paramref name="timeout"/>, stops the loop, and counts what is left as dropped.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        using (var deadline = new CancellationTokenSource(timeout, _timeProvider))
        {
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
        _abortUploads.Cancel();
        await _loop.ConfigureAwait(false);
        StopSpool();

        long left = PendingCount;
        if (left > 0 && _spool is not null)
        {
            Log.LeftInSpool(_logger, left, _options.SpoolDirectory!);
        }
        else if (left > 0)
        {
            _statistics.Dropped((int)Math.Min(left, int.MaxValue), "shutdown");
            Log.ShutdownIncomplete(_logger, left, timeout);
        }

        foreach (FlushWaiter waiter in _flushWaiters)
        {
            waiter.Completion.TrySetCanceled();
        }

        _serializer.Dispose();
        _stop.Dispose();
        _abortUploads.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // Order matters: re-arm the signal before clearing the flag, so a producer that sees the flag clear
                // sets the new signal, not the old one. Both are full fences: were the clearing ordered after the
                // look into the inbox below, a producer could enqueue, still see the flag up, skip the wake-up, and
                // its event would wait for the next one.
                _signal.Reset();
                Interlocked.Exchange(ref _wakeRequested, 0);
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
        while (_completions.TryDequeue(out Completion? completion))
        {
            Apply(completion);
        }

        // A bounded share per pass: under a constant stream of events the loop must still apply answers and start
        // uploads (an unbounded drain would starve them while the hand-off never empties).
        for (int taken = 0; taken < MaxTakenPerPass && _inbox.TryDequeue(out LogEventPayload? payload); taken++)
        {
            Take(payload!);
        }

        // Refusals happen on recording threads, which only bump a counter; the loop reports them.
        long inboxFull = Volatile.Read(ref _inboxFull);
        if (inboxFull > _inboxFullReported)
        {
            _statistics.Dropped((int)(inboxFull - _inboxFullReported), "inbox_full");
            _inboxFullReported = inboxFull;
        }

        while (_flushRequests.TryDequeue(out FlushWaiter? waiter))
        {
            _flushWaiters.Add(waiter);
        }

        if (_spool is not null)
        {
            CommitSpool();
            DropOverSpoolCaps();
            RefillFromSpool();
        }

        DropOverCaps();
        StartImmediateUploads();
        StartBatchUploadIfDue();
        CompleteFlushWaiters();
    }

    private void Take(LogEventPayload payload)
    {
        long ordinal = ++_taken;
        Volatile.Write(ref _taken, ordinal);
        _statistics.Recorded();
        QueuedEvent item;
        try
        {
            _serializationBuffer.Clear();
            _serializer.Reset();
            payload.WriteTo(_serializer, _staticContext);
            _serializer.Flush();
            item = QueuedEvent.Rent(ordinal, payload.EventId, payload.EventType, payload.Priority, _serializationBuffer.WrittenSpan, _timeProvider.GetUtcNow());
        }
        catch (Exception)
        {
            // A hand-built payload whose writer throws cannot be sent; count it and go on.
            _statistics.Dropped(1, "serialization_failed");
            _window.Resolve(ordinal);
            Interlocked.Increment(ref _resolved);
            payload.Release();
            return;
        }

        if (_spool is not null && TryAppendToSpool(item, payload))
        {
            // It reaches the lanes through the spool (RefillFromSpool). A caller waiting for the disk still reads
            // the payload, so under the Always policy it is not given back to its pool.
            if (_options.SpoolFlushPolicy != SpoolFlushPolicy.Always)
            {
                payload.Release();
            }

            return;
        }

        payload.SpoolCommitted = true;
        payload.Release(); // its JSON is written: the payload object can serve the next event
        Route(item);
    }

    /// <summary>Puts an event in its lane: immediate events on their own unless the circuit is open, else the batch.</summary>
    private void Route(QueuedEvent item)
    {
        if (item.Priority == Priority.Immediate && _retry.ImmediateMayTry)
        {
            _pending.AddToImmediate(item);
        }
        else
        {
            _pending.AddToBatch(item);
        }
    }

    private void DropOverCaps()
    {
        List<(QueuedEvent Event, string Reason)>? dropped = _pending.EnforceCaps();
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
            _statistics.Dropped(1, reason);
            Resolve(item);
        }
    }

    /// <summary>How long the loop may sleep: until the oldest batch event is due, or the backoff ends.</summary>
    private DateTimeOffset? NextDeadline()
    {
        if (_inbox.EnqueuedCount != _inbox.DequeuedCount)
        {
            return DateTimeOffset.MinValue; // events are still waiting in the hand-off: another pass at once
        }

        DateTimeOffset? batchDue = NextBatchDeadline();
        if (_spool?.NextSyncDue is not { } syncDue)
        {
            return batchDue;
        }

        return batchDue is { } due && due < syncDue ? due : syncDue;
    }

    /// <summary>When the batch lane needs the loop next: its oldest event's age limit, or the end of a backoff.</summary>
    private DateTimeOffset? NextBatchDeadline()
    {
        if (_pending.BatchCount == 0 || _batchInFlight)
        {
            return null; // new events, answers and flushes wake the loop themselves
        }

        DateTimeOffset due = _pending.FallenBackCount > 0 || _flushWaiters.Count > 0
            ? DateTimeOffset.MinValue
            : _pending.OldestBatchEventAt!.Value + _options.MaxWaitTime;
        return _retry.NotBefore > due ? _retry.NotBefore : due;
    }

    private void CompleteFlushWaiters()
    {
        if (_flushWaiters.Count == 0)
        {
            return;
        }

        long taken = Volatile.Read(ref _taken);
        // Events on disk and not yet loaded are unresolved too: the window only moves past resolved ordinals.
        long oldestUnresolved = _window.OldestUnresolved;
        _flushWaiters.RemoveAll(waiter =>
        {
            if (waiter.Completion.Task.IsCompleted)
            {
                return true;
            }

            if (taken >= waiter.Target && oldestUnresolved > waiter.Target)
            {
                waiter.Completion.TrySetResult();
                return true;
            }

            return false;
        });
    }
}
