using Instrumentation.Spool;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Upload;

/// <summary>Durable mode: events pass through the spool (append, group commit, caps) on their way to the lanes.</summary>
internal sealed partial class UploadPipeline
{
    private readonly List<LogEventPayload> _awaitingDurable = [];
    private readonly object _durableGate = new();
    private long _appendedNotDurable;
    private bool _loggedSpoolFailure;
    private volatile bool _spoolStopped;

    /// <summary>
    /// <see cref="SpoolFlushPolicy.Always"/>: hands the event over, then waits until its record is forced to disk
    /// (the loop's group commit; concurrent callers share one fsync).
    /// </summary>
    public void EnqueueAndWaitDurable(LogEventPayload payload)
    {
        if (!Enqueue(payload))
        {
            return;
        }

        lock (_durableGate)
        {
            while (!payload.SpoolCommitted && !_spoolStopped)
            {
                Monitor.Wait(_durableGate, TimeSpan.FromMilliseconds(100));
            }
        }
    }

    private bool TryAppendToSpool(QueuedEvent item, LogEventPayload payload)
    {
        try
        {
            long size = SpoolRecord.SizeOf(item.Json.Length);
            if (_spool!.TotalBytes + size > _options.MaxSpoolBytes)
            {
                DropOverSpoolCaps(size); // make room first: the spool never holds more than its cap
            }

            _spool.Append(item, payload.Timestamp == default ? _timeProvider.GetUtcNow() : payload.Timestamp);
            _appendedNotDurable++;
            if (_options.SpoolFlushPolicy == SpoolFlushPolicy.Always)
            {
                _awaitingDurable.Add(payload);
            }

            return true;
        }
        catch (IOException exception)
        {
            SpoolFailed(exception);
            return false; // kept in memory instead
        }
    }

    private void CommitSpool()
    {
        bool durable;
        try
        {
            durable = _spool!.Commit(_timeProvider.GetUtcNow());
        }
        catch (IOException exception)
        {
            // The records of this commit did not reach the disk. Their events are still in memory and are uploaded, but
            // they are not durable and are not counted so (SpoolFailed releases any caller waiting for the commit).
            SpoolFailed(exception);
            _appendedNotDurable = 0;
            durable = false;
        }

        if (durable && _appendedNotDurable > 0)
        {
            _statistics.Durable(_appendedNotDurable);
            _appendedNotDurable = 0;
            ReleaseDurableWaiters();
        }

        _statistics.Spool(_spool!.TotalBytes, _spool.CorruptBytes);
    }

    private void DropOverSpoolCaps(long incomingBytes = 0)
    {
        List<(QueuedEvent Event, string Reason)>? removed = _spool!.EnforceCaps(_timeProvider.GetUtcNow(), incomingBytes);
        if (removed is null)
        {
            return;
        }

        foreach ((QueuedEvent item, string reason) in removed)
        {
            _window.Resolve(item.Ordinal);
            Interlocked.Increment(ref _resolved);
            if (item.Priority == Priority.Immediate)
            {
                // Immediate events go last: written again at the end of the spool, with a new ordinal.
                Interlocked.Increment(ref _acceptedBase);
                long ordinal = ++_taken;
                Volatile.Write(ref _taken, ordinal);
                QueuedEvent again = QueuedEvent.Rent(ordinal, item.Id, item.Type, item.Priority, item.Json.Span, item.EnqueuedAt);
                if (!TryAppendToSpoolAgain(again))
                {
                    Route(again);
                }
            }
            else
            {
                _statistics.Dropped(1, reason);
            }

            item.Return();
        }
    }

    private bool TryAppendToSpoolAgain(QueuedEvent item)
    {
        try
        {
            _spool!.Append(item, item.EnqueuedAt);
            return true;
        }
        catch (IOException exception)
        {
            SpoolFailed(exception);
            return false;
        }
    }

    private void RefillFromSpool()
    {
        while (_pending.TotalCount < _options.MaxQueuedEvents && _pending.TotalBytes < _options.MaxQueuedBytes && _spool!.TakeNext() is { } item)
        {
            Route(item);
        }
    }

    private void SpoolFailed(IOException exception)
    {
        if (!_loggedSpoolFailure)
        {
            _loggedSpoolFailure = true;
            SpoolLog.WriteFailed(_logger, exception);
        }

        try
        {
            _spool!.StartNewSegmentAfterFailure();
        }
        catch (IOException)
        {
            // The disk refuses even a new file: carry on in memory; the spool is retried at the next failure.
        }

        ReleaseDurableWaiters();
    }

    private void ReleaseDurableWaiters()
    {
        if (_awaitingDurable.Count == 0)
        {
            return;
        }

        foreach (LogEventPayload payload in _awaitingDurable)
        {
            payload.SpoolCommitted = true;
        }

        _awaitingDurable.Clear();
        lock (_durableGate)
        {
            Monitor.PulseAll(_durableGate);
        }
    }

    private void StopSpool()
    {
        if (_spool is null)
        {
            return;
        }

        try
        {
            CommitSpool();
            _spool.Dispose();
        }
        catch (IOException exception)
        {
            SpoolFailed(exception);
        }

        _spoolStopped = true;
        lock (_durableGate)
        {
            Monitor.PulseAll(_durableGate);
        }
    }
}
