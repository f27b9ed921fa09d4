using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Collector.Tests;

/// <summary>Events recorded by generated code travel through LogManager to the collector and into SQLite.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEnd
{
    public const string Name = "end to end (process-wide hub)";
}

public static partial class StudentEvents
{
    [LogEvent(Priority.Immediate, Name = "notebook")]
    public static partial void NotebookVisited(string notebookId, TimeSpan duration);

    [LogEvent(Priority.Batch, Name = "cell")]
    public static partial void CellExecuted(string notebookId, string cellId, TimeSpan duration);
}

public sealed class Grader
{
    [LogEvent(Priority.Batch)]
    public int Grade(string notebookId, int score) => Math.Clamp(score, 0, 100);
}

[Collection(EndToEnd.Name)]
public class EndToEndTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Immediate_events_are_stored_while_batch_events_wait_and_the_batch_goes_at_50()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var time = new FakeTimeProvider(Start);
        await using LogManager logs = LogManager.Start(Options(collector), timeProvider: time);

        StudentEvents.NotebookVisited("nb-1", TimeSpan.FromSeconds(4));
        for (int i = 0; i < 49; i++)
        {
            StudentEvents.CellExecuted("nb-1", "c" + i, TimeSpan.FromMilliseconds(i));
        }

        await WaitUntil(() => Stats(collector).ByType.ContainsKey("notebook"), "the immediate event is stored");
        await WaitUntil(() => logs.PendingCount == 49, "the uploader has applied the collector's answer"); // the answer lands just after the row
        Assert.Equal(1, Stats(collector).Total);

        new Grader().Grade("nb-1", 120); // the 50th batch event, through a call-site hook
        await WaitUntil(() => Stats(collector).Total == 51, "the batch of 50 is stored");
        await WaitUntil(() => logs.GetStatistics().EventsUploaded == 51, "the uploader has applied the answer");
        Assert.Equal(1, logs.GetStatistics().BatchRequests);
    }

    [Fact]
    public async Task A_partial_batch_is_stored_when_the_wait_time_passes()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var time = new FakeTimeProvider(Start);
        await using LogManager logs = LogManager.Start(Options(collector), timeProvider: time);

        StudentEvents.CellExecuted("nb-2", "c1", TimeSpan.FromMilliseconds(5));
        StudentEvents.CellExecuted("nb-2", "c2", TimeSpan.FromMilliseconds(6));
        await WaitUntil(() => logs.GetStatistics().EventsRecorded == 2, "both events are taken");
        time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal(0, Stats(collector).Total);

        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => Stats(collector).Total == 2, "the batch is stored");
    }

    [Fact]
    public async Task After_FlushAsync_every_event_is_stored_exactly_once()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        await using LogManager logs = LogManager.Start(Options(collector));
        var grader = new Grader();

        for (int i = 0; i < 237; i++)
        {
            if (i % 20 == 0)
            {
                StudentEvents.NotebookVisited("nb-" + i, TimeSpan.FromSeconds(i));
            }

            StudentEvents.CellExecuted("nb-3", "c" + i, TimeSpan.FromMilliseconds(i));
            grader.Grade("nb-3", i);
        }

        await logs.FlushAsync(TestContext.Current.CancellationToken);

        IReadOnlyDictionary<Guid, long> stored = await collector.Running.Store.CountByIdAsync();
        Assert.Equal(237 * 2 + 12, stored.Count);
        Assert.All(stored.Values, count => Assert.Equal(1, count));
        Assert.Equal(0, logs.PendingCount);
        Assert.Equal(237, Stats(collector).ByType["grade"]);
    }

    [Fact]
    public async Task Collector_stopped_and_restarted_in_the_middle_loses_nothing()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var time = new FakeTimeProvider(Start);
        await using LogManager logs = LogManager.Start(Options(collector, o => o.MaxBatchSize = 10), timeProvider: time);

        for (int i = 0; i < 25; i++)
        {
            StudentEvents.CellExecuted("nb-4", "before-" + i, TimeSpan.Zero);
        }

        await WaitUntil(() => Stats(collector).Total == 20, "two full batches are stored");
        await collector.StopAsync();

        StudentEvents.NotebookVisited("nb-4", TimeSpan.FromSeconds(1)); // fails, falls back to the batch
        for (int i = 0; i < 25; i++)
        {
            StudentEvents.CellExecuted("nb-4", "during-" + i, TimeSpan.Zero);
        }

        await WaitUntil(() => logs.GetStatistics().EventsRetried >= 10, "uploads failed while the collector was down");
        await collector.RestartAsync();
        Task flushed = logs.FlushAsync(TestContext.Current.CancellationToken);
        while (!flushed.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(30));
            await Task.WhenAny(flushed, Task.Delay(10, TestContext.Current.CancellationToken));
        }

        await flushed;
        IReadOnlyDictionary<Guid, long> stored = await collector.Running.Store.CountByIdAsync();
        Assert.Equal(51, stored.Count);
        Assert.All(stored.Values, count => Assert.Equal(1, count));
        Assert.Empty(logs.GetStatistics().EventsDropped);
    }

    private static LogManagerOptions Options(TestCollector collector, Action<LogManagerOptions>? configure = null)
    {
        var options = new LogManagerOptions
        {
            Endpoint = collector.Running.Address,
            FlushOnProcessExit = false,
            RetryBaseDelay = TimeSpan.FromSeconds(1),
            RetryMaxDelay = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        return options;
    }

    private static Storage.StoreStatistics Stats(TestCollector collector) => collector.Running.Store.GetStatisticsAsync(CancellationToken.None).GetAwaiter().GetResult(); // polled from a sync condition

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        DateTime limit = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < limit, "Timed out waiting until " + what);
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
