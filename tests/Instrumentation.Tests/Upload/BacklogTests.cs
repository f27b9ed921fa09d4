using Microsoft.AspNetCore.Http;

namespace Instrumentation.Tests.Upload;

/// <summary>Draining a backlog: larger batches, several requests at once, a failure costing only its own request.</summary>
public class BacklogTests
{
    [Fact]
    public async Task A_backlog_goes_in_batches_of_up_to_MaxBacklogBatchSize()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxQueuedEvents = 5_000);
        await PauseEndpointAsync(harness); // one immediate event answered 503 Retry-After: 5

        for (int i = 0; i < 2_500; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 2_501, "every event is taken");
        Assert.Single(harness.Collector.Received); // nothing goes while the endpoint waits
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        int[] sizes = [.. harness.Collector.Received.Skip(1).Select(r => r.Events.Count).Order()];
        Assert.Equal([501, 1_000, 1_000], sizes);
        Assert.Equal(2_501, harness.Collector.Stored.Count);
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Backlog_batches_never_pass_MaxBatchBytes()
    {
        const int maxBatchBytes = 20_000;
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchBytes = maxBatchBytes;
            o.EnableCompression = false;
        });
        await PauseEndpointAsync(harness);

        for (int i = 0; i < 120; i++)
        {
            harness.Manager.AddLog(new CustomLogEvent("cell", Priority.Batch, [new("index", i), new("text", new string('x', 900 + i))]));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 121, "every event is taken");
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        IReadOnlyList<ReceivedRequest> batches = [.. harness.Collector.Received.Skip(1)];
        Assert.All(batches.Select(r => r.BodyBytes), bytes => Assert.InRange(bytes, 1, maxBatchBytes));
        // Batches go concurrently, in any order; all but the one that took the rest are full (no room for another event).
        Assert.True(batches.Count(r => r.BodyBytes <= maxBatchBytes - 1_100) <= 1, string.Join(", ", batches.Select(r => r.BodyBytes)));
        Assert.Equal(121, harness.Collector.Stored.Count);
    }

    [Fact]
    public async Task Concurrent_batch_uploads_never_exceed_the_limit()
    {
        var counting = new CountingHandler();
        using var client = new HttpClient(counting);
        await using var harness = await UploadHarness.StartAsync(
            o =>
            {
                o.MaxBatchSize = 10;
                o.MaxBacklogBatchSize = 10;
                o.MaxConcurrentBatchUploads = 3;
            },
            client: client);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Collector.Default = async (context, request) =>
        {
            await gate.Task;
            return await ScriptedCollector.AcceptAll(context, request);
        };

        for (int i = 0; i < 200; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 3, "three requests are held by the server");
        gate.SetResult();
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(3, counting.Max);
        Assert.Equal(20, harness.Collector.Received.Count);
        Assert.Equal(200, harness.Collector.Stored.Count);
    }

    [Fact]
    public async Task Every_event_arrives_exactly_once_under_concurrent_failing_requests()
    {
        var counting = new CountingHandler();
        using var client = new HttpClient(counting);
        await using var harness = await UploadHarness.StartAsync(
            o =>
            {
                o.MaxBatchSize = 20;
                o.MaxBacklogBatchSize = 60;
                o.MaxQueuedEvents = 10_000;
            },
            client: client);
        int requests = 0;
        harness.Collector.Default = async (context, request) =>
        {
            // Two requests in three fail before anything is stored, in the ways an outage does.
            switch (Interlocked.Increment(ref requests) % 6)
            {
                case 0:
                case 3:
                    context.Abort();
                    return false;
                case 1:
                    context.Response.StatusCode = 503;
                    return false;
                case 4:
                    context.Response.StatusCode = 429;
                    context.Response.Headers.RetryAfter = "1";
                    return false;
                default:
                    return await ScriptedCollector.AcceptAll(context, request);
            }
        };

        var recorded = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(thread => Task.Run(() =>
        {
            for (int i = 0; i < 250; i++)
            {
                CustomLogEvent e = i % 50 == 0 ? UploadHarness.Immediate(index: thread * 1000 + i) : UploadHarness.Batch(index: thread * 1000 + i);
                harness.Manager.AddLog(e);
                recorded.Add(e.EventId);
            }
        }, TestContext.Current.CancellationToken)));

        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(1));

        Assert.Equal(recorded.Order(), harness.Collector.Stored.Keys.Order());
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
        LogManagerStatistics statistics = harness.Manager.GetStatistics();
        Assert.Equal((2_000L, 0L), (statistics.EventsUploaded, statistics.EventsDeadLettered));
        Assert.InRange(counting.Max, 1, 4 + 4); // batch slots plus immediate slots
    }

    [Fact]
    public async Task While_the_circuit_is_open_one_probe_at_a_time_and_the_first_success_restores_full_concurrency()
    {
        var counting = new CountingHandler();
        using var client = new HttpClient(counting);
        await using var harness = await UploadHarness.StartAsync(
            o =>
            {
                o.MaxBatchSize = 10;
                o.MaxBacklogBatchSize = 10;
                o.CircuitBreakerThreshold = 2;
                o.MaxConcurrentBatchUploads = 4;
            },
            client: client);
        harness.Collector.Default = ScriptedCollector.DropConnection; // the collector is down
        for (int i = 0; i < 100; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        // The first requests fail together: the circuit opens. From then on, one probe at a time.
        await UploadHarness.WaitUntil(() => harness.Collector.Received.Count >= 4 && counting.InFlight == 0 && harness.Manager.GetStatistics().EventsRetried >= 40, "the first requests failed");
        counting.ResetMax();
        for (int probe = 0; probe < 3; probe++)
        {
            int before = harness.Collector.Received.Count;
            long retried = harness.Manager.GetStatistics().EventsRetried;
            harness.Time.Advance(TimeSpan.FromSeconds(10));
            await UploadHarness.WaitUntil(() => harness.Collector.Received.Count > before && harness.Manager.GetStatistics().EventsRetried > retried, "a probe failed");
        }

        Assert.Equal(1, counting.Max);

        // The collector is back (its answers held at a gate): the probe succeeds, and four requests go at once.
        var gate = new SemaphoreSlim(0);
        harness.Collector.Default = async (context, request) =>
        {
            await gate.WaitAsync(TestContext.Current.CancellationToken);
            return await ScriptedCollector.AcceptAll(context, request);
        };
        harness.Time.Advance(TimeSpan.FromSeconds(10));
        await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 1, "the probe reached the collector");
        gate.Release(1);
        await UploadHarness.WaitUntil(() => harness.Collector.InFlight == 4, "full concurrency is back at once");
        gate.Release(1_000);
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(100, harness.Collector.Stored.Count);
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Probes_wait_at_most_CircuitProbeMaxDelay_and_held_batches_go_at_once_when_the_circuit_closes()
    {
        var counting = new CountingHandler();
        using var client = new HttpClient(counting);
        await using var harness = await UploadHarness.StartAsync(
            o =>
            {
                o.MaxBatchSize = 10;
                o.MaxBacklogBatchSize = 10;
                o.CircuitBreakerThreshold = 2;
                o.MaxConcurrentBatchUploads = 4;

                // Backoffs of held requests grow far past the probe's cap: only the cap can make probes go every 5 s,
                // and only releasing the held batches can send them without another minute on the clock.
                o.RetryBaseDelay = TimeSpan.FromMinutes(1);
                o.RetryMaxDelay = TimeSpan.FromHours(1);
                o.CircuitProbeMaxDelay = TimeSpan.FromSeconds(5);
            },
            client: client);
        harness.Collector.Default = ScriptedCollector.DropConnection; // the collector is down
        for (int i = 0; i < 100; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Collector.Received.Count >= 4 && counting.InFlight == 0 && harness.Manager.GetStatistics().EventsRetried >= 40, "the first requests failed");
        for (int probe = 0; probe < 4; probe++)
        {
            int before = harness.Collector.Received.Count;
            long retried = harness.Manager.GetStatistics().EventsRetried;
            harness.Time.Advance(TimeSpan.FromSeconds(5));
            await UploadHarness.WaitUntil(() => harness.Collector.Received.Count > before && harness.Manager.GetStatistics().EventsRetried > retried, "a probe went within 5 s of the last");
        }

        // The collector is back: the next probe succeeds, and every held batch goes at once, with no more clock time.
        harness.Collector.Default = ScriptedCollector.AcceptAll;
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await UploadHarness.WaitUntil(() => harness.Collector.Stored.Count == 100, "every held batch went as soon as the circuit closed");
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task A_failure_delays_only_its_own_request()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.MaxBatchSize = 5;
            o.RetryBaseDelay = TimeSpan.FromMinutes(1);
            o.RetryMaxDelay = TimeSpan.FromMinutes(1);
        });
        harness.Collector.ThenStatus(500); // the first batch fails and backs off for up to a minute
        for (int i = 0; i < 5; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await harness.WaitForRetried(5);
        for (int i = 5; i < 10; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        // The second batch goes at once, without waiting for the first one's backoff.
        // (Waits for the uploader to apply the answer: the collector stores before it answers.)
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsUploaded == 5, "the second batch was delivered");
        Assert.Equal(5, harness.Collector.Stored.Count);
        Assert.Equal(5, harness.Manager.PendingCount);
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(10, harness.Collector.Stored.Count);
    }

    /// <summary>An immediate event answered 503 with <c>Retry-After: 5</c>: the whole endpoint waits 5 s (fake clock).</summary>
    private static async Task PauseEndpointAsync(UploadHarness harness)
    {
        harness.Collector.ThenStatus(StatusCodes.Status503ServiceUnavailable, retryAfter: "5");
        harness.Manager.AddLog(UploadHarness.Immediate(index: -1));
        await harness.WaitForRetried(1);
    }
}
