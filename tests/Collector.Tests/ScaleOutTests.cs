using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// Two collectors (each its own WebApplication on its own loopback port) behind a faulty round-robin proxy, writing
/// to one PostgreSQL database, with the real uploader: refused requests, lost answers after the events were stored,
/// and retries that land on the other instance still leave every event stored exactly once.
/// </summary>
[Collection(EndToEnd.Name)] // LogManager.Start attaches to the process-wide hub
public sealed class ScaleOutTests(PostgreSqlServer server)
{
    [Fact]
    public async Task Two_collectors_on_one_PostgreSQL_behind_a_faulty_proxy_store_every_event_exactly_once()
    {
        string database = await server.CreateDatabaseAsync();
        void UsePostgreSql(Hosting.CollectorOptions options) =>
            options.Storage = new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = database };
        await using TestCollector first = await TestCollector.StartAsync(UsePostgreSql);
        await using TestCollector second = await TestCollector.StartAsync(UsePostgreSql);
        await using FaultyProxy proxy = await FaultyProxy.StartAsync(first.Running.Address, second.Running.Address);

        const int Events = 600;
        var options = new LogManagerOptions
        {
            Endpoint = proxy.Address,
            FlushOnProcessExit = false,
            MaxBatchSize = 25,
            RetryBaseDelay = TimeSpan.FromMilliseconds(5),
            RetryMaxDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryAttempts = 1000,
            CircuitBreakerThreshold = 1000,
        };
        var sent = new HashSet<int>();
        await using (LogManager logs = LogManager.Start(options))
        {
            for (int i = 0; i < Events; i++)
            {
                logs.AddLog(new CustomLogEvent(i % 50 == 0 ? "visit" : "tick", i % 50 == 0 ? Priority.Immediate : Priority.Batch, [new("index", i)]));
                sent.Add(i);
            }

            await logs.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Empty(logs.GetStatistics().EventsDropped);
        }

        // Both instances took traffic, and the proxy both refused requests and lost answers of stored events.
        Assert.True(proxy.Refused > 0 && proxy.AnswersLost > 0 && proxy.Forwarded > 0, $"refused {proxy.Refused}, lost {proxy.AnswersLost}, forwarded {proxy.Forwarded}");
        IReadOnlyDictionary<Guid, long> stored = await first.Running.Store.CountByIdAsync();
        Assert.Equal(Events, stored.Count);
        Assert.All(stored.Values, count => Assert.Equal(1, count));
        List<string> rows = await second.Running.Store.ReadAllAsync();
        Assert.Equal(sent.Order(), rows.Select(json => JsonDocument.Parse(json).RootElement.GetProperty("data").GetProperty("index").GetInt32()).Order());
        StoreStatistics statistics = await second.Running.Store.GetStatisticsAsync(TestContext.Current.CancellationToken);
        Assert.Equal(Events, statistics.Total);
        Assert.Equal(Events / 50, statistics.ByType["visit"]);
    }
}
