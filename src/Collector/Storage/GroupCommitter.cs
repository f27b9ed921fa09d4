using System.Diagnostics;
using System.Threading.Channels;

namespace Instrumentation.Collector.Storage;

/// <summary>
/// The writers of a store. Requests hand their batch to a bounded queue and wait; a writer takes every batch that is
/// waiting (up to <see cref="StorageOptions.MaxEventsPerCommit"/> events), commits them in one transaction, and only
/// then completes each request. While a transaction commits the next requests queue up, so the busier the collector,
/// the more requests share one commit (and one disk flush). SQLite has one writer (the file has one write lock); a
/// server database may have several (<see cref="StorageOptions.PostgreSqlWriters"/>), each committing its own group
/// on its own connection while the others commit theirs, so the server's work spreads over several backends.
/// </summary>
/// <remarks>
/// A batch whose request is cancelled while it waits is dropped, never written. If a shared transaction fails, every
/// batch of it is retried in a transaction of its own, so one failing batch cannot fail the requests it was grouped
/// with. Disposing stops taking new batches, commits the ones already queued and then returns. A transaction, once
/// started, is not cancelled: its requests may have gone, but other requests share it. A request whose batch a writer
/// has taken waits for its commit (and its retry alone) even when cancelled: the collector's events are slices of the
/// request's pooled body buffer, which returns to the pool as soon as the wait ends.
/// </remarks>
internal sealed class GroupCommitter : IAsyncDisposable
{
    /// <summary>Commits the batches in one transaction and returns each batch's result, in order.</summary>
    public delegate Task<InsertResult[]> CommitGroup(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken);

    private readonly Channel<PendingBatch> _queue;
    private readonly CommitGroup _commit;
    private readonly int _maxEventsPerCommit;
    private readonly KeyValuePair<string, object?> _provider;
    private readonly Task[] _writers;
    private readonly int _extraWriterMinEvents;
    private long _waitingEvents;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _closing;

    /// <param name="commit">Commits one group in one transaction. With several writers it is called concurrently (one call per writer at a time).</param>
    /// <param name="maxPendingBatches">Batches that may wait; further submitters wait for room.</param>
    /// <param name="maxEventsPerCommit">The most events in one group (whole batches; a larger batch goes alone).</param>
    /// <param name="provider">The metric tag.</param>
    /// <param name="writers">Writer loops, each committing one group at a time.</param>
    /// <param name="extraWriterMinEvents">
    /// The events that must be waiting before a writer other than the first starts a group. Below that, the first
    /// writer alone takes what waits (one larger transaction is cheaper than two small ones that then take turns on the
    /// same totals rows); at or above it, the others commit alongside.
    /// </param>
    public GroupCommitter(CommitGroup commit, int maxPendingBatches, int maxEventsPerCommit, string provider = "test", int writers = 1, int extraWriterMinEvents = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(extraWriterMinEvents);
        _extraWriterMinEvents = extraWriterMinEvents;
        _commit = commit;
        _provider = new("provider", provider);
        _maxEventsPerCommit = maxEventsPerCommit;
        _queue = Channel.CreateBounded<PendingBatch>(new BoundedChannelOptions(maxPendingBatches)
        {
            SingleReader = writers == 1,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writers = new Task[writers];
        for (int i = 0; i < writers; i++)
        {
            bool first = i == 0;
            _writers[i] = Task.Run(() => WriteLoopAsync(first));
        }
    }

    /// <summary>Queues the batch and completes when it has been committed.</summary>
    public async Task<InsertResult> SubmitAsync(IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var pending = new PendingBatch(events);
        try
        {
            await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(IEventStore), "The store is shutting down and takes no more events.");
        }

        if (_writers.Length > 1)
        {
            Interlocked.Add(ref _waitingEvents, events.Count);
            Interlocked.Exchange(ref _arrived, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        using (cancellationToken.UnsafeRegister(static (state, token) => ((PendingBatch)state!).TryCancel(token), pending))
        {
            return await pending.Completion.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _closing = true;
        _queue.Writer.TryComplete();
        Interlocked.Exchange(ref _arrived, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        await Task.WhenAll(_writers).ConfigureAwait(false);
    }

    /// <summary>An extra writer's wait: true once enough events are waiting, false when the committer is closing.</summary>
    private async Task<bool> WaitForBacklogAsync()
    {
        while (true)
        {
            Task arrived = Volatile.Read(ref _arrived).Task;
            if (Interlocked.Read(ref _waitingEvents) >= _extraWriterMinEvents)
            {
                return true;
            }

            if (_closing)
            {
                return false; // the first writer commits what is left
            }

            await arrived.ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync(bool first)
    {
        var group = new List<PendingBatch>();
        var batches = new List<IReadOnlyList<StoredEvent>>();
        PendingBatch? carried = null;
        while (carried is not null
            || ((first || await WaitForBacklogAsync().ConfigureAwait(false)) && await _queue.Reader.WaitToReadAsync().ConfigureAwait(false)))
        {
            group.Clear();
            int events = 0;
            if (carried is not null)
            {
                group.Add(carried);
                events = carried.Events.Count;
                carried = null;
            }

            while (events < _maxEventsPerCommit && _queue.Reader.TryRead(out PendingBatch? next))
            {
                if (_writers.Length > 1)
                {
                    Interlocked.Add(ref _waitingEvents, -next.Events.Count);
                }

                if (!next.TryTake())
                {
                    continue; // its request was cancelled while it waited
                }

                if (group.Count > 0 && events + next.Events.Count > _maxEventsPerCommit)
                {
                    carried = next; // opens the next transaction
                    break;
                }

                group.Add(next);
                events += next.Events.Count;
            }

            if (group.Count == 0)
            {
                continue;
            }

            batches.Clear();
            foreach (PendingBatch pending in group)
            {
                batches.Add(pending.Events);
            }

            try
            {
                InsertResult[] results = await TimedCommitAsync(batches, events).ConfigureAwait(false);
                for (int i = 0; i < group.Count; i++)
                {
                    group[i].Complete(results[i]);
                }
            }
            catch (Exception) when (group.Count > 1)
            {
                foreach (PendingBatch pending in group)
                {
                    await CommitAloneAsync(pending).ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                group[0].Fail(exception);
            }
        }
    }

    private async Task CommitAloneAsync(PendingBatch pending)
    {
        try
        {
            InsertResult[] results = await TimedCommitAsync([pending.Events], pending.Events.Count).ConfigureAwait(false);
            pending.Complete(results[0]);
        }
        catch (Exception exception)
        {
            pending.Fail(exception);
        }
    }

    private async Task<InsertResult[]> TimedCommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, int events)
    {
        // An empty batch is not an upload (InsertAsync queues none): it is the SQLite store's wake-up for a dashboard
        // read's fold. A round of wake-ups alone is no ingest commit and is not recorded; one that rides along adds no request.
        int requests = 0;
        foreach (IReadOnlyList<StoredEvent> batch in batches)
        {
            requests += batch.Count > 0 ? 1 : 0;
        }

        long started = Stopwatch.GetTimestamp();
        string outcome = "failed";
        try
        {
            InsertResult[] results = await _commit(batches, CancellationToken.None).ConfigureAwait(false);
            outcome = "committed";
            return results;
        }
        finally
        {
            if (requests > 0)
            {
                var tags = new TagList { _provider, { "outcome", outcome } };
                StoreMetrics.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
                StoreMetrics.CommitEvents.Record(events, tags);
                StoreMetrics.CommitRequests.Record(requests, tags);
            }
        }
    }

    /// <summary>A request's batch and the promise it waits on. Waiting → taken by the writer, or waiting → cancelled.</summary>
    private sealed class PendingBatch(IReadOnlyList<StoredEvent> events)
    {
        private const int Waiting = 0, Taken = 1, Cancelled = 2;
        private readonly TaskCompletionSource<InsertResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _state;

        public IReadOnlyList<StoredEvent> Events { get; } = events;

        public Task<InsertResult> Completion => _completion.Task;

        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Waiting) == Waiting;

        public void TryCancel(CancellationToken token)
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Waiting) == Waiting)
            {
                _completion.TrySetCanceled(token);
            }
        }

        public void Complete(InsertResult result) => _completion.TrySetResult(result);

        public void Fail(Exception exception) => _completion.TrySetException(exception);
    }
}
