using Instrumentation.Pooling;

namespace Instrumentation.Upload;

/// <summary>
/// The buffer stage: serialized events waiting for upload, in two lanes, with the memory caps.
/// The batch lane keeps recording order (batch events, and immediate events whose own upload failed); the immediate
/// lane holds immediate events waiting for an upload slot. Events being uploaded count against the caps too.
/// </summary>
/// <remarks>
/// When a cap is passed, the oldest batch events are dropped first, then fallen-back immediate events, then waiting
/// immediate events; events in flight are never dropped. Used only by the pipeline's loop, one thread at a time.
/// </remarks>
internal sealed class PendingEvents(LogManagerOptions options)
{
    private readonly RingDeque<QueuedEvent> _batchLane = new();
    private readonly RingDeque<QueuedEvent> _immediateLane = new();
    private long _batchLaneBytes;
    private long _immediateLaneBytes;
    private int _inFlightCount;
    private long _inFlightBytes;
    private int _immediateInBatchLane;

    public int BatchCount => _batchLane.Count;

    public long BatchBytes => _batchLaneBytes;

    /// <summary>Immediate events in the batch lane (their own upload failed): they make the next batch due at once.</summary>
    public int FallenBackCount => _immediateInBatchLane;

    public int TotalCount => _batchLane.Count + _immediateLane.Count + _inFlightCount;

    public long TotalBytes => _batchLaneBytes + _immediateLaneBytes + _inFlightBytes;

    /// <summary>When the oldest event of the batch lane arrived, or null when the lane is empty.</summary>
    public DateTimeOffset? OldestBatchEventAt => _batchLane.TryPeekFirst(out QueuedEvent? first) ? first!.EnqueuedAt : null;

    public void AddToBatch(QueuedEvent item)
    {
        _batchLane.AddLast(item);
        Added(item);
    }

    public void AddToImmediate(QueuedEvent item)
    {
        _immediateLane.AddLast(item);
        _immediateLaneBytes += item.Json.Length;
    }

    /// <summary>Takes the oldest waiting immediate event and counts it as in flight.</summary>
    public QueuedEvent? TakeImmediate()
    {
        if (_immediateLane.Count == 0)
        {
            return null;
        }

        QueuedEvent first = _immediateLane.RemoveFirst();
        _immediateLaneBytes -= first.Json.Length;
        MarkInFlight(first);
        return first;
    }

    /// <summary>Moves every waiting immediate event to the end of the batch lane (the circuit is open).</summary>
    public void MoveImmediateToBatch()
    {
        while (_immediateLane.Count > 0)
        {
            QueuedEvent first = _immediateLane.RemoveFirst();
            _immediateLaneBytes -= first.Json.Length;
            AddToBatch(first);
        }
    }

    /// <summary>
    /// Cuts the next batch from the front of the batch lane into <paramref name="batch"/> and counts it as in flight:
    /// at most <paramref name="maxCount"/> events whose request body (<c>{"events":[…]}</c>) stays within
    /// <paramref name="maxBodyBytes"/>; the first event always goes (alone, if it is larger). Events already in
    /// <paramref name="batch"/> (a held batch being topped up) count toward both limits.
    /// </summary>
    public void TakeBatch(List<QueuedEvent> batch, int maxCount, long maxBodyBytes)
    {
        long body = BatchBodyBytes(batch);
        while (_batchLane.TryPeekFirst(out QueuedEvent? first) && batch.Count < maxCount)
        {
            long withIt = body + first!.Json.Length + (batch.Count == 0 ? 0 : 1);
            if (batch.Count > 0 && withIt > maxBodyBytes)
            {
                break;
            }

            _batchLane.RemoveFirst();
            Removed(first);
            body = withIt;
            batch.Add(first);
            MarkInFlight(first);
        }
    }

    /// <summary>The bytes of <c>{"events":[</c> and <c>]}</c> around a batch's events.</summary>
    public const int BatchBodyOverhead = 13;

    /// <summary>The size of <c>{"events":[…]}</c> with these events (their JSON, commas between them, and the wrapper).</summary>
    public static long BatchBodyBytes(List<QueuedEvent> events)
    {
        long body = BatchBodyOverhead + Math.Max(0, events.Count - 1);
        foreach (QueuedEvent item in events)
        {
            body += item.Json.Length;
        }

        return body;
    }

    /// <summary>An in-flight event is done (delivered, dead-lettered, or about to be requeued).</summary>
    public void Release(QueuedEvent item)
    {
        _inFlightCount--;
        _inFlightBytes -= item.Json.Length;
    }

    /// <summary>Puts in-flight events back at the front of the batch lane, in their order (they go out first).</summary>
    public void ReturnToFront(IReadOnlyList<QueuedEvent> items)
    {
        for (int i = items.Count - 1; i >= 0; i--)
        {
            Release(items[i]);
            _batchLane.AddFirst(items[i]);
            Added(items[i]);
        }
    }

    private readonly List<(QueuedEvent, string)> _dropped = [];

    /// <summary>Drops events until both caps hold; returns what was dropped and why (a list reused by the next call).</summary>
    public List<(QueuedEvent Event, string Reason)>? EnforceCaps()
    {
        _dropped.Clear();
        List<(QueuedEvent, string)>? dropped = null;
        while (TotalCount > options.MaxQueuedEvents || TotalBytes > options.MaxQueuedBytes)
        {
            string reason = TotalCount > options.MaxQueuedEvents ? DropReasons.QueueFull : DropReasons.QueueBytes;
            QueuedEvent? victim = RemoveOldest(_batchLane, Priority.Batch)
                ?? RemoveOldest(_batchLane, Priority.Immediate)
                ?? RemoveOldest(_immediateLane, Priority.Immediate);
            if (victim is null)
            {
                break; // only in-flight events are left; they are not dropped
            }

            (dropped ??= _dropped).Add((victim, reason));
        }

        return dropped;
    }

    private void MarkInFlight(QueuedEvent item)
    {
        _inFlightCount++;
        _inFlightBytes += item.Json.Length;
    }

    private QueuedEvent? RemoveOldest(RingDeque<QueuedEvent> lane, Priority priority)
    {
        for (int i = 0; i < lane.Count; i++)
        {
            if (lane[i].Priority == priority)
            {
                QueuedEvent victim = lane.RemoveAt(i);
                if (lane == _batchLane)
                {
                    Removed(victim);
                }
                else
                {
                    _immediateLaneBytes -= victim.Json.Length;
                }

                return victim;
            }
        }

        return null;
    }

    private void Added(QueuedEvent item)
    {
        _batchLaneBytes += item.Json.Length;
        if (item.Priority == Priority.Immediate)
        {
            _immediateInBatchLane++;
        }
    }

    private void Removed(QueuedEvent item)
    {
        _batchLaneBytes -= item.Json.Length;
        if (item.Priority == Priority.Immediate)
        {
            _immediateInBatchLane--;
        }
    }
}
