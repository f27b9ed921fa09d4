using Instrumentation.Spool;

namespace Instrumentation.Upload;

/// <summary>
/// Durable mode's stage of the loop: events go into the durable queue (append, group commit, caps) and come back out
/// as the lanes have room; a resolved event is acknowledged so its segment can go. Used only by the pipeline's loop,
/// except <see cref="WaitForCommit"/>, which recording threads call under <see cref="SpoolFlushPolicy.Always"/>.
/// </summary>
/// <remarks>
/// An event is in memory only, not in the spool, when its append was refused or when the queue handed its record back
/// after a failed write (a full disk): it is then uploaded from memory like in memory mode, and at shutdown, if still
/// pending, dropped with a reason (it would not be sent by the next start). Handed-back events wait here until the
/// lanes have room, before anything more is read from the spool; when they and the lanes together pass the memory caps
/// the oldest of them are dropped (<c>queue_full</c>, <c>queue_bytes</c>; batch events first), never events that are
/// safe in the spool.
/// </remarks>
internal sealed class DurableStage(IDurableQueue queue, LogManagerOptions options, UploadLedger ledger, UploadStatistics statistics, TimeProvider timeProvider, PendingEvents lanes)
{
    private readonly HashSet<long> _inMemoryOnly = [];
    private readonly Queue<QueuedEvent> _returnedImmediate = new();
    private readonly Queue<QueuedEvent> _returnedBatch = new();
    private long _returnedBytes;

    /// <summary>Events held here (handed back or refused), not yet routed to the lanes.</summary>
    private int ReturnedCount => _returnedImmediate.Count + _returnedBatch.Count;
    private long _appendedNotDurable;

    /// <summary>When the queue needs a commit to keep the flush policy's promise.</summary>
    public DateTimeOffset? NextSyncDue => queue.NextSyncDue;

    /// <summary>
    /// Appends a serialized event to the spool; when the queue cannot take it (no segment file can be created), keeps it
    /// in memory with the events a failed write handed back (routed at the next <see cref="Refill"/>, under the same cap).
    /// </summary>
    public void Append(long ordinal, Guid id, string type, Priority priority, DateTimeOffset recordedAt, ReadOnlySpan<byte> json)
    {
        long size = SpoolRecord.SizeOf(json.Length);
        if (queue.TotalBytes + size > options.MaxSpoolBytes)
        {
            Trim(size); // make room first: the spool never holds more than its cap
        }

        long appended = queue.Append(new SpoolEntry(ordinal, id, type, priority, recordedAt, json));
        if (appended == 0)
        {
            // Not in the spool: like a handed-back event, not routed straight to the lanes, where the cap would drop
            // the oldest event there, one safe in the spool.
            KeepInMemory(QueuedEvent.Rent(ordinal, id, type, priority, json, timeProvider.GetUtcNow()));
        }
        else
        {
            _appendedNotDurable++;
        }

        TakeReturned();
    }

    /// <summary>Commits what was appended; every ordinal up to <paramref name="through"/> is then settled for waiters.</summary>
    public void Commit(long through)
    {
        CommitResult result = queue.Commit(timeProvider.GetUtcNow());
        TakeReturned();
        switch (result)
        {
            case CommitResult.Durable:
                statistics.Durable(_appendedNotDurable); // counted before the waiters are woken
                _appendedNotDurable = 0;
                queue.Publish(through);
                break;
            case CommitResult.Failed:
                _appendedNotDurable = 0; // handed back (a failed write) or written but not confirmed (a failed sync): not counted
                queue.Publish(through); // settled for good: nobody may wait for them
                break;
        }

        statistics.Spool(queue.TotalBytes, queue.CorruptBytes);
    }

    /// <summary>Applies the spool's caps: batch events it removed before they were read are dropped.</summary>
    public void Trim(long incomingBytes = 0)
    {
        foreach (SpoolDrop drop in queue.Trim(timeProvider.GetUtcNow(), incomingBytes))
        {
            ledger.Resolve(drop.Ordinal, Resolution.Dropped, drop.Reason);
        }

        TakeReturned();
    }

    /// <summary>Reads events back while <paramref name="hasRoom"/> says the lanes can take them.</summary>
    /// <remarks>Events handed back after a failed write go first: they are in memory already.</remarks>
    public void Refill(Func<bool> hasRoom, Action<QueuedEvent> route)
    {
        while (hasRoom() && TakeReturnedEvent() is { } returned)
        {
            route(returned);
        }

        while (ReturnedCount == 0 && hasRoom() && queue.TryReadNext(out SpoolEntry entry, out long receipt))
        {
            QueuedEvent item = QueuedEvent.Rent(entry.Ordinal, entry.Id, entry.Type, entry.Priority, entry.Json, entry.RecordedAt);
            item.SpoolReceipt = receipt;
            route(item);
        }

        TakeReturned(); // a read writes what waits first; should that fail, its events are routed at the next pass
    }

    /// <summary>The event is resolved: its record may be deleted.</summary>
    public void Acknowledge(QueuedEvent item)
    {
        if (item.SpoolReceipt != 0)
        {
            queue.Acknowledge(item.SpoolReceipt);
        }
        else
        {
            _inMemoryOnly.Remove(item.Ordinal);
        }
    }

    /// <summary>
    /// At shutdown, once the loop has stopped: the events whose spool write failed and that are still unresolved are
    /// not in the spool, so they are not sent at the next start; they are dropped with <paramref name="reason"/>
    /// through the ledger (and not reported as left in the spool).
    /// </summary>
    /// <returns>How many were dropped.</returns>
    public int DropInMemoryOnly(string reason)
    {
        int dropped = _inMemoryOnly.Count;
        foreach (long ordinal in _inMemoryOnly)
        {
            ledger.Resolve(ordinal, Resolution.Dropped, reason);
        }

        _inMemoryOnly.Clear();
        while (TakeReturnedEvent() is { } returned)
        {
            returned.Return();
        }

        return dropped;
    }

    /// <summary>Blocks a recording thread until the event with <paramref name="ordinal"/> is committed (or the spool is closed).</summary>
    public void WaitForCommit(long ordinal) => queue.WaitForCommit(ordinal);

    /// <summary>
    /// Takes the records the queue handed back after a failed write: their events stay in memory (routed at the next
    /// <see cref="Refill"/>), are no longer durable, and are dropped at shutdown if still pending.
    /// </summary>
    private void TakeReturned()
    {
        while (queue.TryTakeReturned(out SpoolEntry entry))
        {
            KeepInMemory(QueuedEvent.Rent(entry.Ordinal, entry.Id, entry.Type, entry.Priority, entry.Json, entry.RecordedAt));
            _appendedNotDurable = Math.Max(0, _appendedNotDurable - 1); // counted when appended, never made durable
        }

        // One memory cap for everything held: the lanes (only read here) and these events together. Past it these go: the
        // lanes' events are in flight, or safe in the spool.
        while (ReturnedCount > 0
            && (lanes.TotalCount + ReturnedCount > options.MaxQueuedEvents || lanes.TotalBytes + _returnedBytes > options.MaxQueuedBytes))
        {
            string reason = lanes.TotalCount + ReturnedCount > options.MaxQueuedEvents ? DropReasons.QueueFull : DropReasons.QueueBytes;
            QueuedEvent victim = TakeReturnedEvent(batchFirst: true)!;
            _inMemoryOnly.Remove(victim.Ordinal);
            ledger.Resolve(victim.Ordinal, Resolution.Dropped, reason);
            victim.Return();
        }
    }

    /// <summary>Holds an event that is not in the spool until the lanes have room; at shutdown it is dropped unless resolved before.</summary>
    private void KeepInMemory(QueuedEvent item)
    {
        (item.Priority == Priority.Immediate ? _returnedImmediate : _returnedBatch).Enqueue(item);
        _returnedBytes += item.Json.Length;
        _inMemoryOnly.Add(item.Ordinal);
    }

    private QueuedEvent? TakeReturnedEvent(bool batchFirst = false)
    {
        Queue<QueuedEvent> first = batchFirst ? _returnedBatch : _returnedImmediate;
        Queue<QueuedEvent> second = batchFirst ? _returnedImmediate : _returnedBatch;
        if (!first.TryDequeue(out QueuedEvent? item) && !second.TryDequeue(out item))
        {
            return null;
        }

        _returnedBytes -= item.Json.Length;
        return item;
    }

    /// <summary>Commits what is left and closes the queue (releasing every waiter).</summary>
    public void Stop(long through)
    {
        Commit(through);
        queue.Dispose();
    }
}
