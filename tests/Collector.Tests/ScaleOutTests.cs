using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// Two collector processes (the built service, each its own OS process on its own loopback port) on one PostgreSQL
/// database, behind a faulty round-robin proxy, with the real uploader: refused requests, answers lost after the events
/// were stored, one instance killed with SIGKILL mid-run and restarted on another port, and retries that land on the
/// other instance still leave every event stored exactly once.
/// </summary>
[Collection(EndToEnd.Name)] // LogManager.Start attaches to the process-wide hub
public sealed class ScaleOutTests(PostgreSqlServer server)
{
    [Fact]
    public async Task Two_collector_processes_on_one_PostgreSQL_behind_a_faulty_proxy_with_one_killed_and_restarted_store_every_event_exactly_once()
    {
        CancellationToken cancellationToken = TestContext.Current.CancellationToken;
        string database = await server.CreateDatabaseAsync();
        var environment = new Dictionary<string, string>
        {
            ["Collector__Storage__Provider"] = "PostgreSql",
            ["Collector__Storage__ConnectionString"] = database,
            ["Collector__RequestsPerSecondPerKey"] = "0", // all traffic comes from the proxy's one address
        };

        // Both start at once on an empty database: the migration lock makes them take turns creating the schema.
        Task<CollectorProcess>[] starting = [CollectorProcess.StartAsync(environment, cancellationToken), CollectorProcess.StartAsync(environment, cancellationToken)];
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            foreach (Task<CollectorProcess> started in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await (await started).DisposeAsync(); // the one that did start is not left running
            }

            throw;
        }

        await using CollectorProcess first = await starting[0];
        await using CollectorProcess second = await starting[1];
        CollectorProcess? restarted = null;
        try
        {
            await using FaultyProxy proxy = await FaultyProxy.StartAsync(first.Address, second.Address);
            const int Events = 1500;
            var options = new LogManagerOptions
            {
                Endpoint = proxy.Address,
                FlushOnProcessExit = false,
                MaxBatchSize = 25,
                RetryBaseDelay = TimeSpan.FromMilliseconds(5),
                RetryMaxDelay = TimeSpan.FromMilliseconds(50),
                MaxRetryAttempts = 10_000,
                CircuitBreakerThreshold = 10_000,
            };
            await using (LogManager logs = LogManager.Start(options))
            {
                void Record(int from, int to)
                {
                    for (int i = from; i < to; i++)
                    {
                        logs.AddLog(new CustomLogEvent(i % 50 == 0 ? "visit" : "tick", i % 50 == 0 ? Priority.Immediate : Priority.Batch, [new("index", i)]));
                    }
                }

                // Uploads in flight to both, then the second is killed (no shutdown, no flush): its requests break, the
                // ones routed to it afterwards find nothing listening, and the uploader retries them on the first.
                Record(0, Events / 3);
                second.Kill();
                Record(Events / 3, 2 * Events / 3);
                await logs.FlushAsync(cancellationToken);
                Assert.True(proxy.Unreachable > 0, "no request met the killed instance");

                // Restarted (on another port, as after a reschedule), it takes its share again.
                restarted = await CollectorProcess.StartAsync(environment, cancellationToken);
                proxy.Replace(1, restarted.Address);
                Record(2 * Events / 3, Events);
                await logs.FlushAsync(cancellationToken);
                Assert.Empty(logs.GetStatistics().EventsDropped);
            }

            Assert.True(proxy.Refused > 0 && proxy.AnswersLost > 0, $"refused {proxy.Refused}, lost {proxy.AnswersLost}");
            Assert.True(proxy.ForwardedBy.GetValueOrDefault(first.Address) > 0, "the first instance answered nothing");
            Assert.True(proxy.ForwardedBy.GetValueOrDefault(restarted.Address) > 0, "the restarted instance answered nothing");

            // Read back through a store of the test's own on the same database.
            await using IEventStore store = await EventStoreFactory.OpenAsync(
                new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = database }, "unused.db", cancellationToken);
            IReadOnlyDictionary<Guid, long> stored = await store.CountByIdAsync();
            Assert.Equal(Events, stored.Count);
            Assert.All(stored.Values, count => Assert.Equal(1, count));
            List<string> rows = await store.ReadAllAsync();
            Assert.Equal(Enumerable.Range(0, Events), rows.Select(json => JsonDocument.Parse(json).RootElement.GetProperty("data").GetProperty("index").GetInt32()).Order());
            StoreStatistics statistics = await store.GetStatisticsAsync(cancellationToken);
            Assert.Equal(Events, statistics.Total);
            Assert.Equal(Events / 50, statistics.ByType["visit"]);
        }
        finally
        {
            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }
}
