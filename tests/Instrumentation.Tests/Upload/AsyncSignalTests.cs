using Instrumentation.Upload;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>The loop's wake-up: kept when set early, woken by a set, the deadline or cancellation, never run inline.</summary>
public class AsyncSignalTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_set_before_the_wait_is_kept()
    {
        var signal = new AsyncSignal();
        signal.Set();

        ValueTask wait = signal.WaitAsync(null, TimeProvider.System, TestContext.Current.CancellationToken);

        Assert.True(wait.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Reset_arms_it_again()
    {
        var clock = new FakeTimeProvider(Start);
        var signal = new AsyncSignal();
        signal.Set();
        signal.Reset();

        Task wait = signal.WaitAsync(Start.AddSeconds(30), clock, TestContext.Current.CancellationToken).AsTask();
        Assert.False(wait.IsCompleted);

        signal.Set();
        await wait.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_loop_resumes_on_the_pool_not_on_the_thread_that_sets()
    {
        var signal = new AsyncSignal();
        int resumedOn = 0;
        Task loop = Task.Run(
            async () =>
            {
                await signal.WaitAsync(null, TimeProvider.System, TestContext.Current.CancellationToken);
                resumedOn = Environment.CurrentManagedThreadId;
            },
            TestContext.Current.CancellationToken);

        // The recording thread: it must only hand the wake-up over, never run the pipeline's loop itself.
        int recorderId = 0;
        var recorder = new Thread(() =>
        {
            recorderId = Environment.CurrentManagedThreadId;
            while (!loop.IsCompleted)
            {
                signal.Set();
                Thread.Sleep(1);
            }
        });
        recorder.Start();
        await loop.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        recorder.Join();

        Assert.NotEqual(0, resumedOn);
        Assert.NotEqual(recorderId, resumedOn);
    }

    [Fact]
    public async Task The_deadline_wakes_it_exactly_when_the_clock_reaches_it()
    {
        var clock = new FakeTimeProvider(Start);
        var signal = new AsyncSignal();

        Task wait = signal.WaitAsync(Start.AddSeconds(30), clock, TestContext.Current.CancellationToken).AsTask();
        clock.Advance(TimeSpan.FromSeconds(29.999));
        Assert.False(wait.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        await wait.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void A_deadline_already_passed_does_not_wait()
    {
        var clock = new FakeTimeProvider(Start);
        var signal = new AsyncSignal();

        ValueTask wait = signal.WaitAsync(Start.AddSeconds(-1), clock, TestContext.Current.CancellationToken);

        Assert.True(wait.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Cancellation_ends_the_wait_with_an_OperationCanceledException()
    {
        var clock = new FakeTimeProvider(Start);
        var signal = new AsyncSignal();
        using var stop = new CancellationTokenSource();

        Task wait = signal.WaitAsync(null, clock, stop.Token).AsTask();
        Assert.False(wait.IsCompleted);
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task It_can_be_waited_on_again_after_each_wake_up()
    {
        var clock = new FakeTimeProvider(Start);
        var signal = new AsyncSignal();

        for (int round = 0; round < 3; round++)
        {
            signal.Reset();
            Task bySet = signal.WaitAsync(clock.GetUtcNow().AddSeconds(30), clock, TestContext.Current.CancellationToken).AsTask();
            Assert.False(bySet.IsCompleted);
            signal.Set();
            await bySet.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

            signal.Reset();
            Task byClock = signal.WaitAsync(clock.GetUtcNow().AddSeconds(30), clock, TestContext.Current.CancellationToken).AsTask();
            Assert.False(byClock.IsCompleted);
            clock.Advance(TimeSpan.FromSeconds(30));
            await byClock.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        }
    }
}
