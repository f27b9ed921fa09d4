namespace Instrumentation.Tests.Upload;

/// <summary>When uploads happen: immediate at once; batches at the count, the byte size, the wait time, or a flush.</summary>
public class TriggerTests
{
    [Fact]
    public async Task Immediate_event_is_sent_at_once_on_its_own()
    {
        await using var harness = await UploadHarness.StartAsync();
        CustomLogEvent visit = UploadHarness.Immediate();

        harness.Manager.AddLog(visit);
        harness.Manager.AddLog(UploadHarness.Batch());
        await harness.WaitForRequests(1);

        ReceivedRequest request = Assert.Single(harness.Collector.Received);
        Assert.Equal("/logs", request.Path);
        Assert.Equal(visit.EventId, Assert.Single(request.EventIds));
        Assert.Equal("immediate", request.Events[0].GetProperty("priority").GetString());
        await UploadHarness.WaitUntil(() => harness.Manager.PendingCount == 1, "the answer is applied; the batch event waits");
    }

    [Fact]
    public async Task Batch_is_sent_when_it_reaches_MaxBatchSize()
    {
        await using var harness = await UploadHarness.StartAsync();

        for (int i = 0; i < 49; i++)
        {
            harness.Manager.AddLog(UploadHarness.Batch(index: i));
        }

        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 49, "49 events were taken");
        Assert.Empty(harness.Collector.Received);

        harness.Manager.AddLog(UploadHarness.Batch(index: 49));
        await harness.WaitForRequests(1);

        ReceivedRequest batch = Assert.Single(harness.Collector.Received);
        Assert.Equal("/logs/batch", batch.Path);
        Assert.Equal(Enumerable.Range(0, 50), batch.Events.Select(e => e.GetProperty("data").GetProperty("index").GetInt32()));
    }

    [Fact]
    public async Task Batch_is_sent_MaxWaitTime_after_its_first_event()
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Manager.AddLog(UploadHarness.Batch(index: 1));
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 1, "the event was taken");

        harness.Time.Advance(TimeSpan.FromSeconds(20));
        harness.Manager.AddLog(UploadHarness.Batch(index: 2));
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 2, "the second event was taken");
        harness.Time.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Empty(harness.Collector.Received);

        harness.Time.Advance(TimeSpan.FromSeconds(1));
        await harness.WaitForRequests(1);

        Assert.Equal(2, Assert.Single(harness.Collector.Received).Events.Count);
    }

    [Fact]
    public async Task Batch_is_sent_when_it_reaches_MaxBatchBytes()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxBatchBytes = 2_000);

        for (int i = 0; i < 40 && harness.Collector.Received.Count == 0; i++)
        {
            harness.Manager.AddLog(new CustomLogEvent("cell", Priority.Batch, [new("text", new string('x', 300))]));
            await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == i + 1, "the event was taken");
        }

        await harness.WaitForRequests(1);
        ReceivedRequest first = harness.Collector.Received[0];
        Assert.InRange(first.Events.Count, 4, 7);
        Assert.True(first.Json.Length <= 2_000 + 20, $"the batch held {first.Json.Length} bytes");
    }

    [Fact]
    public async Task Events_that_arrive_during_a_send_go_right_after_it()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxBatchSize = 2);
        var release = new TaskCompletionSource();
        harness.Collector.Then(async (context, request) =>
        {
            await release.Task;
            return await ScriptedCollector.AcceptAll(context, request);
        });

        harness.Manager.AddLog(UploadHarness.Batch(index: 1));
        harness.Manager.AddLog(UploadHarness.Batch(index: 2));
        await harness.WaitForRequests(1);
        harness.Manager.AddLog(UploadHarness.Batch(index: 3));
        harness.Manager.AddLog(UploadHarness.Batch(index: 4));
        await UploadHarness.WaitUntil(() => harness.Manager.GetStatistics().EventsRecorded == 4, "all events were taken");
        release.SetResult();

        // No clock advance: the second batch leaves as soon as the first is answered.
        await harness.WaitForRequests(2);
        Assert.Equal([3, 4], harness.Collector.Received[1].Events.Select(e => e.GetProperty("data").GetProperty("index").GetInt32()));
    }

    [Fact]
    public async Task FlushAsync_sends_everything_and_completes_when_the_server_answered()
    {
        await using var harness = await UploadHarness.StartAsync();
        var ids = new List<Guid>();
        for (int i = 0; i < 7; i++)
        {
            var e = i % 3 == 0 ? UploadHarness.Immediate(index: i) : UploadHarness.Batch(index: i);
            harness.Manager.AddLog(e);
            ids.Add(e.EventId);
        }

        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, harness.Manager.PendingCount);
        Assert.Equal(ids.Order(), harness.Collector.Stored.Keys.Order());
        Assert.All(harness.Collector.Stored.Values, count => Assert.Equal(1, count));
    }

    [Fact]
    public async Task FlushAsync_with_nothing_pending_completes()
    {
        await using var harness = await UploadHarness.StartAsync();

        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Empty(harness.Collector.Received);
    }
}
