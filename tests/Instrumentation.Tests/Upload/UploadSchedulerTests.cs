using Instrumentation.Upload;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>The scheduler on its own: the circuit, the server's waits and the probes' waits, on a fake clock.</summary>
public class UploadSchedulerTests
{
    private static readonly UploadResponse Dropped = UploadResponse.Network("connection reset");

    [Theory]
    [InlineData(0.0, 1.5)] // the least a probe waits once the backoff has reached the cap: half of it
    [InlineData(1.0, 3.0)] // the most (a draw at the top of the range): the cap
    public void Once_probes_have_failed_a_while_each_waits_between_half_and_all_of_CircuitProbeMaxDelay(double draw, double seconds)
    {
        var options = new LogManagerOptions { CircuitProbeMaxDelay = TimeSpan.FromSeconds(3), RetryBaseDelay = TimeSpan.FromMilliseconds(250) };
        var scheduler = new UploadScheduler(options, new FakeTimeProvider(UploadHarness.Start), new FixedRandom(draw));

        Assert.Equal(TimeSpan.FromSeconds(seconds), scheduler.ProbeWait(20));
        Assert.Equal(TimeSpan.FromMilliseconds(250 * (0.5 + 0.5 * draw)), scheduler.ProbeWait(1)); // the first probes wait less
    }

    [Fact]
    public void A_Retry_After_answer_neither_counts_toward_the_circuit_nor_delays_the_next_probe_beyond_the_wait()
    {
        var options = new LogManagerOptions { CircuitBreakerThreshold = 2, CircuitProbeMaxDelay = TimeSpan.FromMinutes(10), RetryBaseDelay = TimeSpan.FromMinutes(1) };
        var time = new FakeTimeProvider(UploadHarness.Start);
        var scheduler = new UploadScheduler(options, time, new FixedRandom(0.5));
        var throttled = new UploadResponse(UploadOutcome.Throttled, 429, TimeSpan.FromSeconds(2), [], null);

        // Closed: any number of 429s with Retry-After leave the count of failures in a row alone.
        for (int i = 0; i < 5; i++)
        {
            scheduler.OnFailure(RequestEffect.PauseEndpoint, throttled, attempts: 1);
        }

        Assert.False(scheduler.IsOpen);
        Assert.Equal(0, scheduler.ConsecutiveFailures);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(2), scheduler.ReadyAt); // the server's wait still holds

        // Open (two dropped connections): the next probe waits its backoff ...
        scheduler.OnFailure(RequestEffect.RetryLater, Dropped, attempts: 1);
        scheduler.OnFailure(RequestEffect.RetryLater, Dropped, attempts: 1);
        Assert.True(scheduler.IsOpen);
        Assert.True(scheduler.ReadyAt >= time.GetUtcNow() + TimeSpan.FromSeconds(30), scheduler.ReadyAt.ToString("O"));

        // ... until a probe is answered with Retry-After: then it goes when that wait ends, and the circuit stays open.
        scheduler.OnFailure(RequestEffect.PauseEndpoint, throttled, attempts: 1);
        Assert.True(scheduler.IsOpen);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(2), scheduler.ReadyAt);
    }

    [Fact]
    public void A_503_without_Retry_After_counts_toward_the_circuit()
    {
        var options = new LogManagerOptions { CircuitBreakerThreshold = 2 };
        var scheduler = new UploadScheduler(options, new FakeTimeProvider(UploadHarness.Start), new FixedRandom(0.5));
        var unavailable = new UploadResponse(UploadOutcome.Throttled, 503, null, [], null);

        scheduler.OnFailure(RequestEffect.RetryLater, unavailable, attempts: 1);
        scheduler.OnFailure(RequestEffect.RetryLater, unavailable, attempts: 1);

        Assert.True(scheduler.IsOpen);
    }

    [Fact]
    public void After_a_Retry_After_wait_one_request_goes_alone_until_one_succeeds()
    {
        var options = new LogManagerOptions { MaxConcurrentBatchUploads = 4, MaxConcurrentImmediateUploads = 4 };
        var time = new FakeTimeProvider(UploadHarness.Start);
        var scheduler = new UploadScheduler(options, time, new FixedRandom(0.5));
        var throttled = new UploadResponse(UploadOutcome.Throttled, 429, TimeSpan.FromSeconds(2), [], null);

        scheduler.OnFailure(RequestEffect.PauseEndpoint, throttled, attempts: 1);
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.True(scheduler.CanStartBatch);
        Assert.False(scheduler.ImmediateMayTry); // immediate events join the batch lane meanwhile
        scheduler.Started(UploadKind.Batch);
        Assert.False(scheduler.CanStartBatch);

        scheduler.Finished(UploadKind.Batch);
        scheduler.OnSuccess();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(scheduler.CanStartBatch);
            scheduler.Started(UploadKind.Batch);
        }

        Assert.True(scheduler.CanStartImmediate);
    }

    [Fact]
    public void A_probe_never_waits_longer_than_RetryMaxDelay()
    {
        var options = new LogManagerOptions { CircuitProbeMaxDelay = TimeSpan.FromMinutes(10), RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromSeconds(2) };
        var scheduler = new UploadScheduler(options, new FakeTimeProvider(UploadHarness.Start), new FixedRandom(1.0));

        Assert.Equal(TimeSpan.FromSeconds(2), scheduler.ProbeWait(20));
    }
}
