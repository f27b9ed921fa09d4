using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>
/// Draining a backlog after an outage (issue 10, item 5): what the server says about waiting is not a failure for the
/// circuit, probes are small and go when the server's wait ends, and a batch's backoff grows only with its own failures
/// while the endpoint is up.
/// </summary>
public class DrainTests
{
    /// <summary>The uploader's "circuit opened" log line (Log.CircuitOpened).</summary>
    private const int CircuitOpenedId = 6;

    [Fact]
    public async Task Answers_with_Retry_After_do_not_open_the_circuit()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchSize = 10;
            o.MaxBacklogBatchSize = 10;
            o.CircuitBreakerThreshold = 1; // any failure would open it
            o.MaxConcurrentBatchUploads = 4;
        });
        var gate = new SemaphoreSlim(0);
        int throttled = 0;
        harness.Collector.Default = async (context, request) =>
        {
            // Until the clock moves, every request is throttled (both forms of Retry-After, 1 s); then the collector
            // takes everything, its answers held at a gate so that the test sees how many requests go at once.
            if (harness.Time.GetUtcNow() < UploadHarness.Start.AddSeconds(1))
            {
                bool seconds = Interlocked.Increment(ref throttled) % 2 == 1;
                context.Response.StatusCode = seconds ? StatusCodes.Status429TooManyRequests : StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = seconds
                    ? "1"
                    : UploadHarness.Start.AddSeconds(1).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                return false;
            }

            await gate.WaitAsync(TestContext.Current.CancellationToken);
            return await ScriptedCollector.AcceptAll(context, request);
        };
        for (int i = 0; i < 100; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRetried >= 10 && harness.Collector.InFlight == 0, "the first requests were throttled");
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRetried == 10L * Volatile.Read(ref throttled), "every throttled answer was applied");
        harness.Time.Advance(TimeSpan.FromSeconds(1));

        // An open circuit would send one probe; the server only asked for a wait, so all four slots fill.
        await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 4, "four requests go once the wait is over");
        gate.Release(1_000);
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(1));

        Assert.Equal(100, harness.Collector.Stored.Count);
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
        Assert.DoesNotContain(harness.Logs.GetSnapshot(), r => r.Id.Id == CircuitOpenedId);
    }

    [Fact]
    public async Task While_the_circuit_is_open_a_probe_answered_with_Retry_After_goes_again_when_the_wait_ends()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchSize = 10;
            o.CircuitBreakerThreshold = 1;

            // Probe waits of half an hour to an hour: only the server's Retry-After can bring the next probe sooner.
            o.RetryBaseDelay = TimeSpan.FromMinutes(1);
            o.RetryMaxDelay = TimeSpan.FromHours(1);
            o.CircuitProbeMaxDelay = TimeSpan.FromHours(1);
        }, random: new FixedRandom(0.99));
        harness.Collector.Default = (context, _) =>
        {
            context.Abort(); // the collector is down
            return Task.FromResult(false);
        };
        for (int i = 0; i < 20; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await harness.WaitForRetried(20); // the first requests failed: the circuit is open
        Assert.Contains(harness.Logs.GetSnapshot(), r => r.Id.Id == CircuitOpenedId);

        // The network is back and the collector throttles: the probe (after its wait of a minute at most) gets 503
        // Retry-After: 2, and the next probe goes 2 s later, not after another probe wait.
        harness.Collector.ThenStatus(StatusCodes.Status503ServiceUnavailable, retryAfter: "2");
        harness.Collector.Default = ScriptedCollector.AcceptAll;
        int before = harness.Collector.Received.Count;
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        await UploadHarness.WaitUntil(() => harness.Collector.Received.Count == before + 1 && harness.Manager.GetStatistics().EventsRetried >= 30, "the probe was throttled");

        harness.Time.Advance(TimeSpan.FromSeconds(2));
        await UploadHarness.WaitUntil(() => harness.Collector.Stored.Count == 20, "the next probe went when the server's wait ended, and the circuit closed");
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task After_the_circuit_closes_a_held_batch_backs_off_only_for_its_own_failures()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchSize = 10;
            o.MaxBacklogBatchSize = 10;
            o.CircuitBreakerThreshold = 3;
            o.CircuitProbeMaxDelay = TimeSpan.FromSeconds(5);

            // Backoffs of a minute times 2^(failures-1), drawn at 99 % of their ceiling: after the outage's failures a
            // batch that kept counting them would wait half an hour.
            o.RetryBaseDelay = TimeSpan.FromMinutes(1);
            o.RetryMaxDelay = TimeSpan.FromHours(1);
        }, random: new FixedRandom(0.99));
        harness.Collector.Default = (context, _) =>
        {
            context.Abort(); // the collector is down
            return Task.FromResult(false);
        };
        for (int i = 0; i < 20; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        // Two batches fail, back off a minute, fail again: the circuit opens. Then eight probes fail, 5 s apart.
        await harness.WaitForRetried(20);
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        await harness.WaitForRetried(40);
        for (int probe = 1; probe <= 8; probe++)
        {
            harness.Time.Advance(TimeSpan.FromSeconds(5));
            await harness.WaitForRetried(40 + probe * 10);
        }

        // The collector is back: the probe succeeds, the other batch goes at once and fails once (a 500).
        harness.Collector.Then(ScriptedCollector.AcceptAll);
        harness.Collector.ThenStatus(StatusCodes.Status500InternalServerError);
        harness.Collector.Default = ScriptedCollector.AcceptAll;
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsUploaded == 10 && harness.Manager.GetStatistics().EventsRetried >= 40 + 80 + 10, "the probe was delivered and the other batch failed once");

        // Its first failure since the endpoint came back: a backoff of at most RetryBaseDelay.
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        await UploadHarness.WaitUntil(() => harness.Collector.Stored.Count == 20, "the batch went again within RetryBaseDelay");
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Probes_carry_at_most_MaxBatchSize_events_and_the_backlog_goes_in_full_batches_after()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchSize = 10;
            o.MaxBacklogBatchSize = 100;
            o.CircuitBreakerThreshold = 2;
            o.MaxConcurrentBatchUploads = 4;
            o.EnableCompression = false;
        });
        harness.Collector.Default = (context, _) =>
        {
            context.Abort(); // the collector is down
            return Task.FromResult(false);
        };
        await PauseEndpointAsync(harness); // the backlog builds up while the endpoint waits: it goes in batches of 100
        for (int i = 0; i < 299; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 300, "every event is taken");
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        // Three requests of 100 events (the held immediate event topped up from the lane, and two more) fail together:
        // the circuit is open.
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRetried == 1 + 300 && harness.Collector.InFlight == 0, "the backlog's requests failed");
        int opened = harness.Collector.Received.Count;
        for (int probe = 1; probe <= 3; probe++)
        {
            long retried = harness.Manager.GetStatistics().EventsRetried;
            harness.Time.Advance(TimeSpan.FromSeconds(5));
            await harness.WaitForRetried(retried + 1);
        }

        harness.Collector.Default = ScriptedCollector.AcceptAll;
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(5));

        IReadOnlyList<ReceivedRequest> received = harness.Collector.Received;
        IReadOnlyList<ReceivedRequest> probes = [.. received.Skip(opened).Take(4)]; // three failed probes and the one that closed the circuit
        Assert.All(probes, r => Assert.InRange(r.Events.Count, 1, 10));
        // What a probe left out went back to the batch lane, and failed probes' events merge with other held batches:
        // after the circuit closed the rest went in full backlog batches, all but one of 100.
        int[] after = [.. received.Skip(opened + 4).Select(r => r.Events.Count)];
        Assert.True(after.Count(n => n < 100) <= 1, string.Join(", ", after));
        Assert.Equal(300, harness.Collector.Stored.Count);
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    /// <summary>An immediate event answered 503 with <c>Retry-After: 5</c>: the whole endpoint waits 5 s (fake clock).</summary>
    private static async Task PauseEndpointAsync(UploadHarness harness)
    {
        harness.Collector.ThenStatus(StatusCodes.Status503ServiceUnavailable, retryAfter: "5");
        harness.Manager.AddLog(UploadHarness.Immediate(index: -1));
        await harness.WaitForRetried(1);
    }
}
