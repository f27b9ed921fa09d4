using System.Globalization;
using System.Text;
using Instrumentation.Collector.Storage.Sqlite;
using Instrumentation.Collector.Tests.Stores;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The SQLite writer's deferred rollup totals across a SIGKILL of a real collector process: the events it had
/// answered are stored, the totals it had not folded yet are lost with it, and the next start recomputes them from the
/// stored events, so every rollup table matches the events exactly (nothing missing, nothing counted twice).
/// </summary>
public sealed class RollupCrashTests
{
    private const int BatchSize = 200;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Rollups_match_the_events_after_a_SIGKILL_before_any_fold_and_after_a_fold_with_more_events_pending()
    {
        string folder = Directory.CreateTempSubdirectory("instrumentation-rollup-crash-").FullName;
        string path = Path.Combine(folder, "events.db");
        try
        {
            // 1: killed before any fold: the totals of all 6,000 events were only in the dead process's memory.
            await IngestThenKillAsync(path, first: 0, batches: 30);
            Assert.Equal(0, RollupAudit.Mark(path));
            Assert.Equal(0, RollupAudit.Scalar(path, "SELECT count(*) FROM event_minutes;"));
            Assert.Equal(0, RollupAudit.Scalar(path, "SELECT count(*) FROM event_context;"));
            await RecoverAsync(path);

            // 2: killed after the threshold fold, with the events of the commits after it pending.
            long before = RollupAudit.LastSeq(path);
            int batches = (SqliteRollupFolder.FoldThreshold / BatchSize) + 10;
            await IngestThenKillAsync(path, first: 30 * BatchSize, batches, killOnceMarkReaches: before + SqliteRollupFolder.FoldThreshold);
            long mark = RollupAudit.Mark(path);
            Assert.True(mark >= before + SqliteRollupFolder.FoldThreshold, $"the threshold fold did not happen (mark {mark}, {before} events before)");
            Assert.True(mark < RollupAudit.LastSeq(path), "nothing was pending at the kill");
            await RecoverAsync(path);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <param name="killOnceMarkReaches">
    /// If given, the kill waits (30 s at most) for the collector's fold writer, which folds on a loop of its own, to have
    /// moved the rollup file's mark this far: a kill after the threshold fold, not during it.
    /// </param>
    private static async Task IngestThenKillAsync(string path, int first, int batches, long? killOnceMarkReaches = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["Collector__DatabasePath"] = path,
            ["Collector__RequestsPerSecondPerKey"] = "0",
        };
        await using CollectorProcess collector = await CollectorProcess.StartAsync(environment, Token);
        using var client = new HttpClient { BaseAddress = collector.Address };
        for (int b = 0; b < batches; b++)
        {
            // One request at a time: each answer means its events were committed (and so durable) before the next.
            string body = "{\"events\":[" + string.Join(",", Enumerable.Range(first + (b * BatchSize), BatchSize).Select(Json)) + "]}";
            using HttpResponseMessage response = await client.PostAsync(new Uri("/logs/batch", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"), Token);
            Assert.True(response.IsSuccessStatusCode, $"batch {b}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Token)}");
        }

        if (killOnceMarkReaches is long mark)
        {
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(Token);
            patience.CancelAfter(TimeSpan.FromSeconds(30));
            while (RollupAudit.Mark(path) < mark)
            {
                await Task.Delay(10, patience.Token);
            }
        }

        collector.Kill(); // SIGKILL: no shutdown, no fold
    }

    private static async Task RecoverAsync(string path)
    {
        await using (SqliteEventStore store = SqliteEventStore.ForFile(path))
        {
            await store.InitializeAsync(Token); // recomputes the totals of the events after the mark
            Assert.Equal(RollupAudit.LastSeq(path), RollupAudit.Mark(path));
            RollupAudit.AssertExact(path);
        }

        RollupAudit.AssertExact(path);
    }

    private static string Json(int n) => SqliteRollupFoldTests.Event(n).Json;
}
