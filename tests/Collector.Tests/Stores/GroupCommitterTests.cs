using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The writer that shares transactions between requests. A gate holds the first commit open, so what queues meanwhile is
/// known exactly, without relying on timing.
/// </summary>
public sealed class GroupCommitterTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Batches_that_queue_while_a_commit_runs_share_the_next_transaction_and_each_gets_its_own_result()
    {
        await using var store = new RecordingCommit(maxEventsPerCommit: 100);
        Task<InsertResult> a = store.Committer.SubmitAsync(Batch(2), Token);
        await store.FirstCommitStarted;
        Task<InsertResult> b = store.Committer.SubmitAsync(Batch(3), Token);
        Task<InsertResult> c = store.Committer.SubmitAsync(Batch(1), Token);
        store.OpenGate();

        Assert.Equal(2, (await a).Count);
        Assert.Equal(3, (await b).Count);
        Assert.Equal(1, (await c).Count);
        Assert.Equal([[2], [3, 1]], store.Groups);
    }

    [Fact]
    public async Task A_transaction_holds_at_most_MaxEventsPerCommit_events_of_whole_batches()
    {
        await using var store = new RecordingCommit(maxEventsPerCommit: 6);
        Task<InsertResult> first = store.Committer.SubmitAsync(Batch(1), Token);
        await store.FirstCommitStarted;
        Task<InsertResult>[] queued = [.. new[] { 3, 3, 3, 9 }.Select(n => store.Committer.SubmitAsync(Batch(n), Token))];
        store.OpenGate();

        await first;
        await Task.WhenAll(queued);
        Assert.Equal([[1], [3, 3], [3], [9]], store.Groups);
    }

    [Fact]
    public async Task When_a_shared_transaction_fails_each_batch_is_retried_alone_and_only_the_bad_one_fails()
    {
        await using var store = new RecordingCommit(maxEventsPerCommit: 100) { FailWhenGroupHas = 7 };
        Task<InsertResult> first = store.Committer.SubmitAsync(Batch(1), Token);
        await store.FirstCommitStarted;
        Task<InsertResult> good1 = store.Committer.SubmitAsync(Batch(2), Token);
        Task<InsertResult> bad = store.Committer.SubmitAsync(Batch(7), Token);
        Task<InsertResult> good2 = store.Committer.SubmitAsync(Batch(3), Token);
        store.OpenGate();

        await first;
        Assert.Equal(2, (await good1).Count);
        Assert.Equal(3, (await good2).Count);
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Equal("batch of 7 refused", error.Message);
        Assert.Equal([[1], [2], [3]], store.Groups); // the failed attempts are not recorded
    }

    [Fact]
    public async Task A_batch_cancelled_while_it_waits_is_never_committed()
    {
        await using var store = new RecordingCommit(maxEventsPerCommit: 100);
        Task<InsertResult> first = store.Committer.SubmitAsync(Batch(1), Token);
        await store.FirstCommitStarted;
        using var cancel = new CancellationTokenSource();
        Task<InsertResult> cancelled = store.Committer.SubmitAsync(Batch(5), cancel.Token);
        Task<InsertResult> kept = store.Committer.SubmitAsync(Batch(2), Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        store.OpenGate();

        await first;
        await kept;
        Assert.Equal([[1], [2]], store.Groups);
    }

    [Fact]
    public async Task Disposing_commits_what_is_queued_and_then_refuses_new_batches()
    {
        var store = new RecordingCommit(maxEventsPerCommit: 100);
        Task<InsertResult> first = store.Committer.SubmitAsync(Batch(1), Token);
        await store.FirstCommitStarted;
        Task<InsertResult> queued = store.Committer.SubmitAsync(Batch(4), Token);
        ValueTask disposing = store.DisposeAsync();
        store.OpenGate();
        await disposing;

        Assert.Equal(4, (await queued).Count);
        await first;
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.Committer.SubmitAsync(Batch(1), Token));
        Assert.Equal([[1], [4]], store.Groups);
    }

    private static StoredEvent[] Batch(int count) => [.. Enumerable.Range(0, count).Select(_ => EventStoreContract.Event())];

    /// <summary>A commit that records the batch sizes of each transaction; the first one waits for <see cref="OpenGate"/>.</summary>
    private sealed class RecordingCommit : IAsyncDisposable
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public RecordingCommit(int maxEventsPerCommit) =>
            Committer = new GroupCommitter(CommitAsync, maxPendingBatches: 16, maxEventsPerCommit);

        public GroupCommitter Committer { get; }

        public List<int[]> Groups { get; } = [];

        public int? FailWhenGroupHas { get; init; }

        public Task FirstCommitStarted => _firstStarted.Task;

        public void OpenGate() => _gate.TrySetResult();

        public ValueTask DisposeAsync() => Committer.DisposeAsync();

        private async Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
        {
            _firstStarted.TrySetResult();
            await _gate.Task;
            if (FailWhenGroupHas is int bad && batches.Any(b => b.Count == bad))
            {
                throw new InvalidOperationException($"batch of {bad} refused");
            }

            Groups.Add([.. batches.Select(b => b.Count)]);
            return [.. batches.Select(b => new InsertResult(new bool[b.Count]))];
        }
    }
}
