using Instrumentation.Tests.Subjects;
using Instrumentation.Tests.Upload;

namespace Instrumentation.Tests.Hosting;

/// <summary>
/// Pooling with several listeners: two uploaders receive the same pooled payload objects; each must upload every event
/// with its own content, however the two interleave (a payload returned to its pool by the first while the second has
/// not written it yet would be refilled by another recording and uploaded with someone else's values).
/// Runs in parallel with other tests: it only looks at the events it recorded.
/// </summary>
public class SharedPayloadTests
{
    [Fact]
    public async Task Two_uploaders_sharing_pooled_payloads_each_upload_every_event_once_with_its_own_values()
    {
        const int Threads = 4;
        const int PerThread = 1_000;
        string run = "shared-" + Guid.NewGuid().ToString("N");
        await using ScriptedCollector firstCollector = await ScriptedCollector.StartAsync();
        await using ScriptedCollector secondCollector = await ScriptedCollector.StartAsync();
        using var client = new HttpClient();
        await using LogManager first = Start(firstCollector, client);
        await using LogManager second = Start(secondCollector, client);

        Task[] writers = [.. Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                NotebookEvents.CellExecuted(run, t + ":" + i, TimeSpan.FromMilliseconds(i));
            }
        }, TestContext.Current.CancellationToken))];
        await Task.WhenAll(writers);
        await first.FlushAsync(TestContext.Current.CancellationToken);
        await second.FlushAsync(TestContext.Current.CancellationToken);

        string[] expected = [.. Enumerable.Range(0, Threads).SelectMany(t => Enumerable.Range(0, PerThread).Select(i => t + ":" + i)).Order(StringComparer.Ordinal)];
        Dictionary<string, Guid> firstIds = Mine(firstCollector, run, expected);
        Dictionary<string, Guid> secondIds = Mine(secondCollector, run, expected);
        Assert.Equal(firstIds, secondIds); // the same event, with the same id, in both
    }

    private static LogManager Start(ScriptedCollector collector, HttpClient client)
    {
        var options = new LogManagerOptions { Endpoint = collector.Endpoint, FlushOnProcessExit = false, MaxQueuedEvents = 100_000 };
        var manager = new LogManager(options, () => client, null, null, null);
        manager.StartCore(attachToHub: true, registerProcessExit: false);
        return manager;
    }

    /// <summary>This run's events as a collector got them: every cell once, with a distinct id and matching duration.</summary>
    private static Dictionary<string, Guid> Mine(ScriptedCollector collector, string run, string[] expected)
    {
        var mine = collector.Received
            .SelectMany(r => r.Events)
            .Where(e => e.GetProperty("type").GetString() == "cell" && e.GetProperty("data").GetProperty("notebook_id").GetString() == run)
            .Select(e => (
                Cell: e.GetProperty("data").GetProperty("cell_id").GetString()!,
                Duration: e.GetProperty("data").GetProperty("duration_ms").GetDouble(),
                Id: e.GetProperty("id").GetGuid()))
            .ToList();
        Assert.Equal(expected, mine.Select(e => e.Cell).Order(StringComparer.Ordinal));
        Assert.All(mine, e => Assert.Equal(double.Parse(e.Cell.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture), e.Duration));
        Assert.Equal(mine.Count, mine.Select(e => e.Id).Distinct().Count());
        return mine.ToDictionary(e => e.Cell, e => e.Id);
    }
}
