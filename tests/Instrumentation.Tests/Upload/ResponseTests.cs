using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Tests.Upload;

/// <summary>Every answer the protocol defines, and the faults around it, checked by what the server received.</summary>
public class ResponseTests
{
    [Fact]
    public async Task Failed_immediate_upload_joins_the_batch_with_the_same_id()
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.ThenStatus(500);
        CustomLogEvent visit = UploadHarness.Immediate();

        harness.Manager.AddLog(visit);
        await harness.WaitForRetried(1);
        harness.Time.Advance(TimeSpan.FromSeconds(10));
        await harness.WaitForRequests(2);

        Assert.Equal("/logs", harness.Collector.Received[0].Path);
        Assert.Equal("/logs/batch", harness.Collector.Received[1].Path);
        Assert.Equal(visit.EventId, Assert.Single(harness.Collector.Received[1].EventIds));
        Assert.Equal(1, harness.Collector.Stored[visit.EventId]);
    }

    [Fact]
    public async Task Partial_rejects_requeue_retryable_items_and_dead_letter_the_rest()
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.Then(async (context, request) =>
        {
            harness.Collector.Store(request.EventIds.Where((_, i) => i is 0 or 3));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(
                $$"""{"accepted":2,"rejected":[{"index":1,"id":"{{request.EventIds.ElementAt(1)}}","reason":"database busy","retryable":true},{"index":2,"id":"{{request.EventIds.ElementAt(2)}}","reason":"missing timestamp","retryable":false}]}""");
            return false;
        });
        var events = Enumerable.Range(0, 4).Select(i => UploadHarness.Batch(index: i)).ToList();
        events.ForEach(harness.Manager.AddLog);

        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, harness.Collector.Received.Count);
        Assert.Equal(events[1].EventId, Assert.Single(harness.Collector.Received[1].EventIds));
        Assert.Equal([events[0].EventId, events[1].EventId, events[3].EventId], harness.Collector.Stored.Keys.Order());
        DeadLetter dead = Assert.Single(harness.DeadLetters);
        Assert.Equal(events[2].EventId, dead.EventId);
        Assert.Equal("rejected", dead.Reason); // a fixed reason: the server's text is the detail, never a metric tag
        Assert.Equal("missing timestamp", dead.Detail);
        Assert.Equal(1, harness.Manager.GetStatistics().EventsDeadLettered);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task Retry_After_in_seconds_is_honoured(int status)
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.ThenStatus(status, retryAfter: "120");
        CustomLogEvent cell = UploadHarness.Batch();
        harness.Manager.AddLog(cell);
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        await harness.WaitForRetried(1);
        harness.Time.Advance(TimeSpan.FromSeconds(119));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Single(harness.Collector.Received);

        harness.Time.Advance(TimeSpan.FromSeconds(1));
        await flushed;
        Assert.Equal(2, harness.Collector.Received.Count);
        Assert.Equal(1, harness.Collector.Stored[cell.EventId]);
    }

    [Fact]
    public async Task Retry_After_as_an_http_date_is_honoured_and_clamped()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxRetryAfter = TimeSpan.FromSeconds(30));
        string inAnHour = UploadHarness.Start.AddHours(1).ToString("R", CultureInfo.InvariantCulture);
        harness.Collector.ThenStatus(503, retryAfter: inAnHour);
        harness.Manager.AddLog(UploadHarness.Batch());
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        await harness.WaitForRetried(1);
        harness.Time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Single(harness.Collector.Received);

        harness.Time.Advance(TimeSpan.FromSeconds(1)); // clamped to MaxRetryAfter, not an hour
        await flushed;
        Assert.Equal(2, harness.Collector.Received.Count);
    }

    [Fact]
    public async Task Server_errors_back_off_and_dead_letter_after_the_retry_budget()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxRetryAttempts = 2);
        harness.Collector.Default = async (context, _) =>
        {
            context.Response.StatusCode = 500;
            await context.Response.WriteAsync("broken");
            return false;
        };
        CustomLogEvent cell = UploadHarness.Batch();
        harness.Manager.AddLog(cell);
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        for (int attempt = 1; attempt <= 2; attempt++)
        {
            await harness.WaitForRetried(attempt);
            harness.Time.Advance(TimeSpan.FromSeconds(10));
        }

        await flushed;
        Assert.Equal(3, harness.Collector.Received.Count);
        Assert.Equal("retry_budget_exhausted", Assert.Single(harness.DeadLetters).Reason);
        Assert.Empty(harness.Collector.Stored);
    }

    [Fact]
    public async Task Dropped_connections_are_retried_without_loss_or_budget()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxRetryAttempts = 0);
        for (int i = 0; i < 3; i++)
        {
            harness.Collector.ThenDropConnection();
        }

        var events = Enumerable.Range(0, 3).Select(i => UploadHarness.Batch(index: i)).ToList();
        events.ForEach(harness.Manager.AddLog);
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            await harness.WaitForRetried(3 * attempt);
            harness.Time.Advance(TimeSpan.FromSeconds(10));
        }

        await flushed;
        Assert.Equal(4, harness.Collector.Received.Count);
        Assert.Equal(events.Select(e => e.EventId).Order(), harness.Collector.Stored.Keys.Order());
        Assert.Empty(harness.DeadLetters);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_in_time_counts_as_a_network_error()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.RequestTimeout = TimeSpan.FromSeconds(20));
        var never = new TaskCompletionSource();
        harness.Collector.Then(async (_, _) =>
        {
            await never.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return false;
        });
        CustomLogEvent visit = UploadHarness.Immediate();
        harness.Manager.AddLog(visit);
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
        await harness.WaitForRequests(1);

        harness.Time.Advance(TimeSpan.FromSeconds(20)); // the request's timeout, on the fake clock
        await harness.WaitForRetried(1);
        harness.Time.Advance(TimeSpan.FromSeconds(10));
        await flushed;

        Assert.Equal(1, harness.Collector.Stored[visit.EventId]);
        never.SetResult();
    }

    [Fact]
    public async Task Too_large_batches_are_split_in_halves_and_a_single_oversized_event_is_dead_lettered()
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.Default = async (context, request) =>
        {
            bool hasHuge = request.Events.Any(e => e.GetProperty("data").GetProperty("index").GetInt32() == 99);
            if (request.Events.Count > 2 || hasHuge)
            {
                context.Response.StatusCode = 413;
                await context.Response.WriteAsync("too large");
                return false;
            }

            return await ScriptedCollector.AcceptAll(context, request);
        };
        var events = Enumerable.Range(0, 4).Select(i => UploadHarness.Batch(index: i)).Append(UploadHarness.Batch(index: 99)).ToList();
        events.ForEach(harness.Manager.AddLog);

        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        // The halves may go concurrently, so their order is not fixed.
        Assert.Equal(5, harness.Collector.Received[0].Events.Count);
        Assert.Equal([1, 2, 2], harness.Collector.Received.Skip(1).Select(r => r.Events.Count).Order());
        Assert.Equal(events.Take(4).Select(e => e.EventId).Order(), harness.Collector.Stored.Keys.Order());
        DeadLetter dead = Assert.Single(harness.DeadLetters);
        Assert.Equal((events[4].EventId, "too_large"), (dead.EventId, dead.Reason));
    }

    [Fact]
    public async Task Bad_request_dead_letters_the_whole_request()
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.ThenStatus(400);
        harness.Manager.AddLog(UploadHarness.Batch(index: 1));
        harness.Manager.AddLog(UploadHarness.Batch(index: 2));

        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, harness.DeadLetters.Count);
        Assert.All(harness.DeadLetters, d => Assert.StartsWith("bad_request", d.Reason, StringComparison.Ordinal));
        Assert.Single(harness.Collector.Received);
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    public async Task Refused_key_pauses_uploads_with_the_longest_backoff_and_keeps_the_events(int status)
    {
        await using var harness = await UploadHarness.StartAsync(o => o.ApiKey = "secret-key");
        harness.Collector.ThenStatus(status);
        CustomLogEvent cell = UploadHarness.Batch();
        harness.Manager.AddLog(cell);
        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        await harness.WaitForRetried(1);
        Assert.Equal("Bearer secret-key", harness.Collector.Received[0].Authorization);
        harness.Time.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Single(harness.Collector.Received);
        Assert.Equal(1, harness.Manager.PendingCount);

        harness.Time.Advance(TimeSpan.FromSeconds(1)); // RetryMaxDelay in this harness
        await flushed;
        Assert.Equal(1, harness.Collector.Stored[cell.EventId]);
    }

    [Fact]
    public async Task Circuit_opens_after_repeated_failures_and_immediate_events_stop_hammering()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.CircuitBreakerThreshold = 2);
        harness.Collector.ThenStatus(503, retryAfter: "5");
        harness.Collector.ThenStatus(503, retryAfter: "5");
        harness.Manager.AddLog(UploadHarness.Immediate(index: 1));
        await harness.WaitForRetried(1);
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await harness.WaitForRetried(2); // the batch probe failed too: the circuit is open

        for (int i = 2; i <= 5; i++)
        {
            harness.Manager.AddLog(UploadHarness.Immediate(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 5, "all events were taken");
        Assert.Equal(2, harness.Collector.Received.Count); // no immediate request while the circuit is open

        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        ReceivedRequest probe = harness.Collector.Received[2];
        Assert.Equal("/logs/batch", probe.Path);
        Assert.Equal(5, probe.Events.Count);
        Assert.Equal(5, harness.Collector.Stored.Count);
    }
}
