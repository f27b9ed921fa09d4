using System.Diagnostics;
using System.Globalization;
using System.Text;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Benchmarks;

/// <summary>
/// Dashboard page render time at 1,000,000 stored events: the store is filled directly (batches of 1,000 through
/// <see cref="IEventStore.InsertAsync"/>, which also keeps the dashboard's rollups), then a collector serves it and each
/// page is requested over HTTP on loopback, one request at a time: the time is from sending the request to the last
/// byte of the HTML. Events: spread evenly over the last 7 days, 8 types, 2 priorities, 500 students (net_id),
/// 20 courses (course_id); one event in 1,000 has "needle" in its data.
/// </summary>
internal static class DashboardBenchmark
{
    private const int Types = 8, Students = 500, Courses = 20, Measured = 20, WarmUp = 3;

    public static async Task RunAsync(int events, string? postgres)
    {
        Console.WriteLine($"Dashboard pages at {events:N0} stored events ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}); {Measured} requests per page after {WarmUp} unmeasured.");
        string folder = Directory.CreateTempSubdirectory("dashboard-benchmark-").FullName;
        try
        {
            await RunStoreAsync("SQLite", new StorageOptions { Provider = StorageProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(folder, "events.db")}" }, folder, events);
            if (postgres is not null)
            {
                await RunStoreAsync("PostgreSQL 15", new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = postgres }, folder, events);
            }
            else
            {
                Console.WriteLine("(PostgreSQL skipped: pass --postgres <connection string> of an empty database, or set INSTRUMENTATION_TEST_POSTGRES)");
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task RunStoreAsync(string name, StorageOptions storage, string folder, int events)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var fill = Stopwatch.StartNew();
        await using (IEventStore store = await EventStoreFactory.OpenAsync(storage, Path.Combine(folder, "unused.db")))
        {
            // Sixteen batches in flight, so that the writer commits several together (as with concurrent uploads).
            var pending = new List<Task>();
            for (int start = 0; start < events; start += 1000)
            {
                var batch = new List<StoredEvent>(1000);
                for (int i = start; i < Math.Min(events, start + 1000); i++)
                {
                    batch.Add(Event(i, events, now));
                }

                pending.Add(store.InsertAsync(batch, CancellationToken.None));
                if (pending.Count == 16)
                {
                    await Task.WhenAll(pending);
                    pending.Clear();
                }
            }

            await Task.WhenAll(pending);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: filled {events:N0} events in {fill.Elapsed.TotalSeconds:N1} s ({events / fill.Elapsed.TotalSeconds:N0} events/s, rollups included)."));

        await using RunningCollector collector = await CollectorHost.StartAsync(new CollectorOptions { RequestsPerSecondPerKey = 0, Storage = storage, DatabasePath = Path.Combine(folder, "unused.db") }, "http://127.0.0.1:0", logging => { });
        using var client = new HttpClient { BaseAddress = collector.Address };
        string someId = Id(events / 2).ToString("D");
        string from = (now - TimeSpan.FromDays(3)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture);
        string to = (now - TimeSpan.FromDays(2)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture);
        string[] pages =
        [
            "/", "/?range=day", "/?range=week",
            "/tail", "/tail/rows?after=0",
            "/events", "/events?type=type3", $"/events?from={from}&to={to}", "/events?ctx=net_id&value=s00042", "/events?ctx=course_id&value=c07&type=type1",
            "/events?q=needle", "/events?type=type5&q=needle", $"/events/{someId}",
            "/activity", "/activity?sort=value&dir=asc", "/activity?range=day", "/activity?key=course_id",
        ];
        Console.WriteLine();
        Console.WriteLine($"{name}, {events:N0} events:");
        Console.WriteLine("| page | median ms | p95 ms | max ms | HTML KiB |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (string page in pages)
        {
            var times = new List<double>(Measured);
            int bytes = 0;
            for (int i = 0; i < WarmUp + Measured; i++)
            {
                var clock = Stopwatch.StartNew();
                using HttpResponseMessage response = await client.GetAsync(page);
                byte[] body = await response.Content.ReadAsByteArrayAsync();
                clock.Stop();
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"{page} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
                }

                bytes = body.Length;
                if (i >= WarmUp)
                {
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }
            }

            times.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| `{page.Replace(from, "<3 days ago>", StringComparison.Ordinal).Replace(to, "<2 days ago>", StringComparison.Ordinal).Replace(someId, "<id>", StringComparison.Ordinal)}` | {times[times.Count / 2]:N1} | {times[(int)Math.Ceiling(times.Count * 0.95) - 1]:N1} | {times[^1]:N1} | {bytes / 1024.0:N0} |"));
        }
    }

    private static Guid Id(int i) => new(string.Create(CultureInfo.InvariantCulture, $"0199b000-0000-7000-8000-{i:x12}"));

    private static StoredEvent Event(int i, int events, DateTimeOffset now)
    {
        // Evenly over 7 days, oldest first; a deterministic spread of types, students and courses.
        DateTimeOffset timestamp = now - TimeSpan.FromDays(7) + TimeSpan.FromTicks(TimeSpan.FromDays(7).Ticks / events * i);
        string type = "type" + (i * 7 % Types).ToString(CultureInfo.InvariantCulture);
        string priority = i % 5 == 0 ? "immediate" : "batch";
        string student = "s" + (i * 31 % Students).ToString("00000", CultureInfo.InvariantCulture);
        string course = "c" + (i * 13 % Courses).ToString("00", CultureInfo.InvariantCulture);
        string code = i % 1000 == 0 ? "find_needle(x)" : "print(" + i.ToString(CultureInfo.InvariantCulture) + ")";
        string id = Id(i).ToString("D");
        string json = string.Create(CultureInfo.InvariantCulture,
            $$"""{"id":"{{id}}","type":"{{type}}","priority":"{{priority}}","timestamp":"{{timestamp.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'}}","context":{"net_id":"{{student}}","course_id":"{{course}}"},"data":{"cell_id":"c{{i % 120}}","code":"{{code}}","duration_ms":{{i % 997}} """) + "}}";
        return new StoredEvent(Id(i), type, priority, timestamp, json);
    }
}
