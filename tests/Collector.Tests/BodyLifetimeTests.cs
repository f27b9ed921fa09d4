using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The stored events are slices of the request body, a buffer rented from the shared pool: it must not go back to the
/// pool (to be filled by the next request) while the writer may still read it, whatever happens to the request.
/// </summary>
public sealed class BodyLifetimeTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_aborted_while_its_commit_waits_never_lets_another_request_overwrite_its_events()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        using (HttpResponseMessage warm = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(Guid.NewGuid()))))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode); // the schema and the writer exist
        }

        var sent = new Dictionary<Guid, string>();
        string Request(char fill)
        {
            // Three events of ~50 KB: a body of ~150 KB, the same pool bucket for every request of this test.
            string[] events = [.. Enumerable.Range(0, 3).Select(i =>
            {
                Guid id = Guid.NewGuid();
                string json = TestCollector.Event(id, data: $$"""{"fill":"{{fill}}","i":{{i}},"pad":"{{new string(fill, 50_000)}}"}""");
                lock (sent)
                {
                    sent[id] = json;
                }

                return json;
            })];
            return TestCollector.Batch(events);
        }

        // Another connection holds the file's write lock: the writer takes the queued requests and then waits in BEGIN
        // IMMEDIATE (busy timeout 30 s) before it reads any of them.
        await using var blocker = new SqliteConnection($"Data Source={collector.DatabasePath}");
        await blocker.OpenAsync(Token);
        await using SqliteTransaction hold = blocker.BeginTransaction(deferred: false); // BEGIN IMMEDIATE

        using var abort = new CancellationTokenSource();
        var aborted = new HttpRequestMessage(HttpMethod.Post, "/logs/batch") { Content = new StringContent(Request('a'), Encoding.UTF8, "application/json") };
        Task<HttpResponseMessage> abortedAnswer = collector.Client.SendAsync(aborted, abort.Token);
        await Task.Delay(500, Token); // time for the server to read it and the writer to take it (if not, it is dropped: also correct)
        await abort.CancelAsync(); // the client goes away: RequestAborted fires while the commit waits
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abortedAnswer);
        await Task.Delay(500, Token); // time for the server to see the abort (and, were it wrong, give the body back)

        // Requests of the same size rent bodies from the same pool: had the aborted request's buffer been returned, one
        // of them would fill it with its own bytes before the writer reads it.
        var others = new List<Task<HttpResponseMessage>>();
        foreach (char fill in "bcdefghijklmnopqrstuvwxyz0123456")
        {
            others.Add(collector.PostAsync("/logs/batch", Request(fill)));
            await Task.Delay(10, Token); // one at a time, so that they are read on the server's threads in turn
        }

        await Task.Delay(500, Token);
        await hold.RollbackAsync(Token);
        foreach (HttpResponseMessage answer in await Task.WhenAll(others))
        {
            using (answer)
            {
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            }
        }

        // Each row as sent, under its own id: a body overwritten before the writer read it would store another event's
        // bytes (its id, its data) under the aborted event's id.
        await using var reader = new SqliteConnection($"Data Source={collector.DatabasePath};Mode=ReadOnly");
        await reader.OpenAsync(Token);
        await using SqliteCommand select = reader.CreateCommand();
        select.CommandText = "SELECT id, json FROM events;";
        var stored = new Dictionary<Guid, string>();
        await using (SqliteDataReader rows = await select.ExecuteReaderAsync(Token))
        {
            while (await rows.ReadAsync(Token))
            {
                stored[new Guid(rows.GetFieldValue<byte[]>(0), bigEndian: true)] = rows.GetString(1); // the id's 16 bytes (schema 6)
            }
        }

        Guid[] ours = [.. stored.Keys.Where(sent.ContainsKey)];
        Assert.InRange(ours.Length, 32 * 3, 33 * 3); // every event of the answered requests; the aborted one's if its commit had started
        Assert.All(ours, id => Assert.Equal(sent[id], stored[id]));

        collector.AssertNoErrorsLogged();
    }
}
