namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The dashboard reads waiting for the SQLite store to fold its pending rollups (<see cref="SqliteEventStore.FoldRollupsAsync"/>).
/// A read joins the waiters (the first of them wakes the events writer); the events writer takes every waiter at the
/// start of its next commit and, after that commit (committed or not), hands them to the fold writer
/// (<see cref="SqliteFoldWriter"/>), which answers them once a fold covering that commit has been written to the rollup
/// file, or fails them with the fold's error (the uploads are never refused for it). So a read waits for the commit in
/// progress, the next one and the fold, not for every upload queued before it: under back-pressure the queue holds up to
/// <see cref="StorageOptions.MaxPendingBatches"/> batches, many commits' worth.
/// </summary>
/// <remarks>
/// The one piece of state, the waiters not yet taken, is shared by the readers (who add themselves) and the writer loop
/// (which takes them), so it is guarded by a lock. Once taken, the waiters are the events writer's, then the fold writer's.
/// </remarks>
internal sealed class FoldWaiters
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _waiting;

    /// <summary>Joins the waiters of the next commit.</summary>
    /// <param name="wake">
    /// True for the first reader of these waiters, who must wake the writer: one wake-up per commit's waiters, not one
    /// per read, so reads under back-pressure do not fill the writer's queue with wake-ups ahead of uploads.
    /// </param>
    /// <returns>A task that completes when a commit that started after this call has folded, or faults with its error.</returns>
    public Task Join(out bool wake)
    {
        lock (_gate)
        {
            wake = _waiting is null;
            if (_waiting is null)
            {
                _waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                // A commit's error faults the task even when every reader has stopped waiting (cancelled, or failed at
                // once by a store shutting down): observed here, so it never surfaces as an unobserved task exception.
                _ = _waiting.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            return _waiting.Task;
        }
    }

    /// <summary>Takes every waiter (the writer, at the start of a commit); null when none waits.</summary>
    public TaskCompletionSource? Take()
    {
        lock (_gate)
        {
            TaskCompletionSource? taken = _waiting;
            _waiting = null;
            return taken;
        }
    }
}
