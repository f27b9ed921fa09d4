using System.Collections.Concurrent;

namespace Instrumentation.Upload;

/// <summary>How an event's story ends.</summary>
internal enum Resolution
{
    /// <summary>The collector accepted it.</summary>
    Delivered,

    /// <summary>The collector refused it for good, or it ran out of retries (a <see cref="DeadLetterReasons"/> reason).</summary>
    DeadLettered,

    /// <summary>It was dropped before it could be delivered (a cap, shutdown, a serialization failure).</summary>
    Dropped,
}

/// <summary>
/// The ledger: which events exist (ordinals), which are resolved, and who waits for them (flushes). Every event
/// counter and metric changes here, in <see cref="Resolve"/> (and <see cref="Take"/>, <see cref="Refused"/>), so the
/// totals cannot disagree with the resolution state.
/// </summary>
/// <remarks>
/// Ordinals are positions in the order events entered the pipeline: events replayed from the spool take
/// 1…<see cref="Replayed"/>, then each event taken from the hand-off the next one. Only the loop calls
/// <see cref="Take"/>, <see cref="Resolve"/> and <see cref="CompleteFlushWaiters"/>; other threads read the counts
/// and queue flushes.
/// </remarks>
internal sealed class UploadLedger
{
    private readonly UploadStatistics _statistics;
    private readonly ResolutionWindow _window = new();
    private readonly ConcurrentQueue<FlushWaiter> _flushRequests = new();
    private readonly List<FlushWaiter> _flushWaiters = [];
    private long _taken;
    private long _resolved;

    public UploadLedger(UploadStatistics statistics, long replayed)
    {
        _statistics = statistics;
        Replayed = replayed;
        _taken = replayed;
        statistics.Replayed(replayed);
    }

    /// <summary>Events found in the spool at start: they hold the first ordinals.</summary>
    public long Replayed { get; }

    /// <summary>The highest ordinal handed out so far.</summary>
    public long Taken => Volatile.Read(ref _taken);

    /// <summary>How many events are resolved (delivered, dead-lettered or dropped).</summary>
    public long ResolvedCount => Volatile.Read(ref _resolved);

    /// <summary>Whether a flush waits (it makes batches due at once).</summary>
    public bool HasFlushWaiters => _flushWaiters.Count > 0;

    /// <summary>An event was taken from the hand-off: it gets the next ordinal and counts as recorded.</summary>
    public long Take()
    {
        long ordinal = _taken + 1;
        Volatile.Write(ref _taken, ordinal);
        _statistics.Recorded();
        return ordinal;
    }

    /// <summary>Events refused at the hand-off (it was full): they never got an ordinal, and are counted as dropped.</summary>
    public void Refused(int count) => _statistics.Dropped(count, DropReasons.InboxFull);

    /// <summary>The event is done: the one place its resolution, the counts and the metrics change.</summary>
    /// <param name="ordinal">The event's ordinal.</param>
    /// <param name="resolution">How it ended.</param>
    /// <param name="reason">For a dead letter or a drop, the fixed reason (the metric's <c>reason</c> tag).</param>
    public void Resolve(long ordinal, Resolution resolution, string? reason = null)
    {
        _window.Resolve(ordinal);
        Interlocked.Increment(ref _resolved);
        switch (resolution)
        {
            case Resolution.Delivered:
                _statistics.Uploaded(1);
                break;
            case Resolution.DeadLettered:
                _statistics.DeadLettered(1, reason!);
                break;
            default:
                _statistics.Dropped(1, reason!);
                break;
        }
    }

    /// <summary>
    /// At shutdown, once the loop has stopped: every ordinal taken and not yet resolved is resolved as dropped with
    /// <paramref name="reason"/>, through <see cref="Resolve"/> like any other end, so the counts stay consistent
    /// (nothing is left pending that is also counted as dropped).
    /// </summary>
    /// <returns>How many events were dropped.</returns>
    public long DropUnresolved(string reason)
    {
        long dropped = 0;
        for (long ordinal = _window.OldestUnresolved; ordinal <= _taken; ordinal++)
        {
            if (!_window.IsResolved(ordinal))
            {
                Resolve(ordinal, Resolution.Dropped, reason);
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>Completes when every event accepted up to <paramref name="target"/> is resolved. Any thread.</summary>
    public Task WaitForAsync(long target, CancellationToken cancellationToken)
    {
        var waiter = new FlushWaiter(target);
        _flushRequests.Enqueue(waiter);
        return waiter.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Moves flushes queued by other threads into the loop's list.</summary>
    public void CollectFlushRequests()
    {
        while (_flushRequests.TryDequeue(out FlushWaiter? waiter))
        {
            _flushWaiters.Add(waiter);
        }
    }

    /// <summary>Completes each flush whose events are all taken and resolved.</summary>
    public void CompleteFlushWaiters()
    {
        if (_flushWaiters.Count == 0)
        {
            return;
        }

        long taken = _taken;
        long oldestUnresolved = _window.OldestUnresolved;
        _flushWaiters.RemoveAll(waiter =>
        {
            if (waiter.Completion.Task.IsCompleted)
            {
                return true; // canceled by its caller
            }

            if (taken >= waiter.Target && oldestUnresolved > waiter.Target)
            {
                waiter.Completion.TrySetResult();
                return true;
            }

            return false;
        });
    }

    /// <summary>At shutdown: flushes still waiting are canceled.</summary>
    public void CancelFlushWaiters()
    {
        CollectFlushRequests();
        foreach (FlushWaiter waiter in _flushWaiters)
        {
            waiter.Completion.TrySetCanceled();
        }

        _flushWaiters.Clear();
    }

    private sealed class FlushWaiter(long target)
    {
        public long Target { get; } = target;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
