using System.Collections.Concurrent;
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

    /// <summary>The uploader's "request started" debug line (Log.RequestStarted).</summary>
    private const int RequestStartedId = 15;

    /// <summary>The uploader's "request answered" debug line (Log.RequestAnswered).</summary>
    private const int RequestAnsweredId = 16;

    private static int Count(UploadHarness harness, int logId) => harness.Logs.GetSnapshot().Count(r => r.Id.Id == logId);

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
        int pastTheWait = 0;
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

            Interlocked.Increment(ref pastTheWait);
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            return await ScriptedCollector.AcceptAll(context, request);
        };
        for (int i = 0; i < 100; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        // Every event is in the uploader's hands and every request it started was answered (throttled): until the
        // clock moves no request can start.
        await UploadHarness.WaitUntil(
            () => harness.Manager.GetStatistics().EventsRecorded == 100 && Count(harness, RequestAnsweredId) is > 0 and var answered && answered == Count(harness, RequestStartedId),
            "the first requests were throttled");
        int startedBefore = Count(harness, RequestStartedId);
        Assert.Equal(0, Volatile.Read(ref pastTheWait));
        harness.Time.Advance(TimeSpan.FromSeconds(1));

        // When the wait ends one request goes alone (the loop starts every request it may in one pass, so the others
        // would have started before this one reached the collector) ...
        await UploadHarness.WaitUntil(() => Volatile.Read(ref pastTheWait) == 1, "one request goes once the wait is over");
        Assert.Equal(1, Count(harness, RequestStartedId) - startedBefore);
        Assert.Equal(1, harness.Collector.InFlight);

        // ... and once the server has taken it, all four slots fill (an open circuit would still send one probe).
        gate.Release(1);
        await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 4, "four requests go once the server took one");
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
        harness.Collector.Default = ScriptedCollector.DropConnection; // the collector is down
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
        harness.Collector.Default = ScriptedCollector.DropConnection; // the collector is down
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
        // The collector tells probes from other requests itself: a request that arrives once the circuit-opened line is
        // logged is a probe (the line is written before the first probe is scheduled). Counting by position in the
        // collector's list instead raced with the uploader (a probe answered just before the test read the list).
        bool CircuitOpen() => harness.Logs.GetSnapshot().Any(r => r.Id.Id == CircuitOpenedId);
        var failedProbes = new ConcurrentQueue<int>();
        ReceivedRequest? closingProbe = null;
        harness.Collector.Default = (context, request) =>
        {
            if (CircuitOpen())
            {
                failedProbes.Enqueue(request.Events.Count);
            }

            context.Abort(); // the collector is down
            return Task.FromResult(false);
        };
        await PauseEndpointAsync(harness); // the backlog builds up while the endpoint waits: it goes in batches of 100
        for (int i = 0; i < 299; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 300, "every event is taken");
        // After the server's wait one request (the held immediate event topped up from the lane) goes alone and fails;
        // after its backoff it fails again: the circuit is open. Time moves on until three probes have failed.
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        var limit = DateTime.UtcNow.AddSeconds(30);
        while (failedProbes.Count < 3)
        {
            Assert.True(DateTime.UtcNow < limit, $"three probes failed ({failedProbes.Count} did)");
            harness.Time.Advance(TimeSpan.FromSeconds(1));
            await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 0, "no request in flight");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 0, "the last failed probe answered");
        harness.Collector.Default = (context, request) =>
        {
            Interlocked.CompareExchange(ref closingProbe, request, null);
            return ScriptedCollector.AcceptAll(context, request);
        };
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(5));

        Assert.All(failedProbes, n => Assert.InRange(n, 1, 10));
        Assert.NotNull(closingProbe);
        Assert.InRange(closingProbe.Events.Count, 1, 10);
        // What a probe left out went back to the batch lane, and failed probes' events merge with other held batches:
        // after the circuit closed the rest went in full backlog batches, all but one of 100.
        IReadOnlyList<ReceivedRequest> received = harness.Collector.Received;
        int closedAt = received.ToList().FindIndex(r => ReferenceEquals(r, closingProbe));
        Assert.True(closedAt >= 0, "the closing probe is among the requests");
        int[] after = [.. received.Skip(closedAt + 1).Select(r => r.Events.Count)];
        Assert.True(after.Count(n => n < 100) <= 1, string.Join(", ", after));
        Assert.Equal(300, harness.Collector.Stored.Count);
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Answers_503_without_Retry_After_still_open_the_circuit()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchSize = 10;
            o.CircuitBreakerThreshold = 2;
            o.MaxConcurrentBatchUploads = 1;
        });
        harness.Collector.Default = (context, _) =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable; // no Retry-After: a failure like any other
            return Task.FromResult(false);
        };
        for (int i = 0; i < 10; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await harness.WaitForRetried(10);
        Assert.DoesNotContain(harness.Logs.GetSnapshot(), r => r.Id.Id == CircuitOpenedId);
        harness.Time.Advance(TimeSpan.FromSeconds(1)); // past the first backoff (at most RetryBaseDelay)
        await harness.WaitForRetried(20);
        Assert.Contains(harness.Logs.GetSnapshot(), r => r.Id.Id == CircuitOpenedId);

        harness.Collector.Default = ScriptedCollector.AcceptAll;
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(1));
        Assert.Equal(10, harness.Collector.Stored.Count);
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
