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
    public async Task A_request_cancelled_after_its_batch_was_taken_waits_for_its_commit_also_when_retried_alone()
    {
        // The collector's events are slices of the request's pooled body buffer, which goes back to the pool once
        // InsertAsync completes: a request must not stop waiting while a transaction (or its retry alone after a failed
        // group) may still read its events, however it was cancelled.
        using var cancelFirst = new CancellationTokenSource();
        using var cancelShared = new CancellationTokenSource();
        await using var store = new RecordingCommit(maxEventsPerCommit: 100)
        {
            FailWhenGroupHas = 7,
            Started = batches =>
            {
                if (batches.Count == 2)
                {
                    cancelShared.Cancel(); // while the shared group, which will fail, is being written
                }
            },
        };
        Task<InsertResult> first = store.Committer.SubmitAsync(Batch(1), cancelFirst.Token);
        await store.FirstCommitStarted;
        await cancelFirst.CancelAsync();
        Task<InsertResult> shared = store.Committer.SubmitAsync(Batch(2), cancelShared.Token);
        Task<InsertResult> bad = store.Committer.SubmitAsync(Batch(7), Token);

        Assert.False(first.IsCompleted);
        store.OpenGate();

        Assert.Equal(1, (await first).Count);
        Assert.Equal(2, (await shared).Count); // answered by its own commit, not cancelled in between
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.True(cancelShared.IsCancellationRequested);
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

    [Fact]
    public async Task Several_writers_commit_groups_concurrently_and_answer_each_request_only_after_its_own_commit()
    {
        // Three commits held open at once prove three writers commit concurrently (one writer would never start the
        // second while the first waits); each request stays unanswered until the commit that holds it returns.
        var started = new System.Collections.Concurrent.ConcurrentQueue<(int Size, TaskCompletionSource Release)>();
        var threeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
        {
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            started.Enqueue((batches.Sum(b => b.Count), release));
            if (started.Count == 3)
            {
                threeStarted.TrySetResult();
            }

            await release.Task;
            return [.. batches.Select(b => new InsertResult([.. b.Select(_ => true)]))];
        }

        await using var committer = new GroupCommitter(CommitAsync, maxPendingBatches: 16, maxEventsPerCommit: 100, writers: 3);
        Task<InsertResult> a = committer.SubmitAsync(Batch(1), Token);
        await WaitUntilAsync(() => started.Count == 1);
        Task<InsertResult> b = committer.SubmitAsync(Batch(2), Token);
        await WaitUntilAsync(() => started.Count == 2);
        Task<InsertResult> c = committer.SubmitAsync(Batch(3), Token);
        await threeStarted.Task.WaitAsync(TimeSpan.FromSeconds(30), Token);

        (int Size, TaskCompletionSource Release)[] commits = [.. started];
        Assert.Equal([1, 2, 3], commits.Select(x => x.Size));
        commits[1].Release.SetResult();
        Assert.Equal(2, (await b).NewCount);
        Assert.False(a.IsCompleted || c.IsCompleted);
        commits[2].Release.SetResult();
        commits[0].Release.SetResult();
        Assert.Equal(1, (await a).NewCount);
        Assert.Equal(3, (await c).NewCount);
    }

    [Fact]
    public async Task An_extra_writer_starts_a_group_only_once_enough_events_wait()
    {
        var firstCommit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var groups = new System.Collections.Concurrent.ConcurrentQueue<int[]>();
        int commits = 0;
        async Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref commits) == 1)
            {
                firstStarted.SetResult();
                await firstCommit.Task; // the first writer stays busy: only the extra writer can take what comes next
            }

            groups.Enqueue([.. batches.Select(b => b.Count)]);
            return [.. batches.Select(b => new InsertResult(new bool[b.Count]))];
        }

        await using var committer = new GroupCommitter(CommitAsync, maxPendingBatches: 16, maxEventsPerCommit: 100, writers: 2, extraWriterMinEvents: 5);
        Task<InsertResult> a = committer.SubmitAsync(Batch(1), Token);
        await firstStarted.Task;
        Task<InsertResult> b = committer.SubmitAsync(Batch(2), Token);
        Task<InsertResult> c = committer.SubmitAsync(Batch(3), Token); // 5 waiting: the extra writer takes both at once
        await Task.WhenAll(b, c).WaitAsync(TimeSpan.FromSeconds(30), Token);
        Assert.False(a.IsCompleted);
        Assert.Equal([[2, 3]], groups);

        Task<InsertResult> d = committer.SubmitAsync(Batch(4), Token); // 4 waiting: below the threshold, it waits for the first writer
        Assert.False(d.IsCompleted);
        firstCommit.SetResult();
        await Task.WhenAll(a, d);
        Assert.Equal([[2, 3], [1], [4]], groups);
    }

    [Fact]
    public void Writers_must_be_at_least_one() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new GroupCommitter((_, _) => Task.FromResult(Array.Empty<InsertResult>()), 16, 100, writers: 0));

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(1, Token); // polls state another thread sets; what is asserted does not depend on timing
        }
    }

    [Fact]
    public async Task Empty_batches_the_SQLite_rollup_barrier_are_no_requests_and_a_round_of_them_alone_is_no_recorded_commit()
    {
        string provider = "barrier-metrics-" + Guid.NewGuid().ToString("N"); // the meter is global: this test's own tag
        using var events = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<int>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.events");
        using var requests = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<int>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.requests");
        using var durations = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(null, StoreMetrics.MeterName, "instrumentation.collector.commit.duration");
        await using (var store = new RecordingCommit(maxEventsPerCommit: 100, provider))
        {
            Task<InsertResult> first = store.Committer.SubmitAsync(Batch(1), Token);
            await store.FirstCommitStarted;
            Task<InsertResult> barrier = store.Committer.SubmitAsync([], Token);
            Task<InsertResult> second = store.Committer.SubmitAsync(Batch(2), Token);
            store.OpenGate();
            await Task.WhenAll(first, barrier, second);
            await store.Committer.SubmitAsync([], Token); // a barrier alone
            Assert.Equal([[1], [0, 2], [0]], store.Groups);
        }

        static bool Mine<T>(Microsoft.Extensions.Diagnostics.Metrics.Testing.CollectedMeasurement<T> m, string provider)
            where T : struct => Equals(m.Tags["provider"], provider);
        Assert.Equal([1, 2], events.GetMeasurementSnapshot().Where(m => Mine(m, provider)).Select(m => m.Value));
        Assert.Equal([1, 1], requests.GetMeasurementSnapshot().Where(m => Mine(m, provider)).Select(m => m.Value));
        Assert.Equal(2, durations.GetMeasurementSnapshot().Count(m => Mine(m, provider)));
    }

    private static StoredEvent[] Batch(int count) => [.. Enumerable.Range(0, count).Select(_ => EventStoreContract.Event())];

    /// <summary>A commit that records the batch sizes of each transaction; the first one waits for <see cref="OpenGate"/>.</summary>
    private sealed class RecordingCommit : IAsyncDisposable
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public RecordingCommit(int maxEventsPerCommit, string provider = "test") =>
            Committer = new GroupCommitter(CommitAsync, maxPendingBatches: 16, maxEventsPerCommit, provider);

        public GroupCommitter Committer { get; }

        public List<int[]> Groups { get; } = [];

        public int? FailWhenGroupHas { get; init; }

        /// <summary>Called as each transaction starts, with its batches.</summary>
        public Action<IReadOnlyList<IReadOnlyList<StoredEvent>>>? Started { get; init; }

        public Task FirstCommitStarted => _firstStarted.Task;

        public void OpenGate() => _gate.TrySetResult();

        public ValueTask DisposeAsync() => Committer.DisposeAsync();

        private async Task<InsertResult[]> CommitAsync(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, CancellationToken cancellationToken)
        {
            Started?.Invoke(batches);
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
