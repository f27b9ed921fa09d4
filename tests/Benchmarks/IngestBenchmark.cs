using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Benchmarks;

/// <summary>
/// Collector ingest throughput: 8 clients upload batches of new events over real HTTP on loopback to a collector in
/// this process, each waiting for its answer (the collector answers once the events are committed), for SQLite and
/// PostgreSQL, batches of 50 and 1,000. Bodies are built before the clock starts (uncompressed JSON, ~220 bytes per
/// event, ~270 with the notebook context, every id new), so the figure is what the collector and its store take: parse,
/// validate, group commit.
/// Ids and timestamps are what the uploader sends: UUIDv7 ids (time-ordered) and timestamps that move forward.
/// </summary>
internal static class IngestBenchmark
{
    private const int Clients = 8;
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static long s_events;

    /// <summary>What the events' <c>context</c> holds (<c>--context</c>).</summary>
    public enum ContextShape
    {
        /// <summary>One field with one value in every event: <c>{"net_id":"ab12"}</c>.</summary>
        One,

        /// <summary>
        /// The notebook logger's shape: each event from one of 200 students (<c>net_id</c>), each student in one of 7
        /// courses (<c>course_id</c>), in one of 50 notebooks (<c>notebook</c>), drawn at random: a commit of a few hundred
        /// events then holds a few hundred distinct context values, each a row of the dashboard's rollups.
        /// </summary>
        Notebook,
    }

    /// <summary>The context of the events the runs make.</summary>
    public static ContextShape Shape { get; set; } = ContextShape.One;

    private static readonly Random s_values = new(20261130);

    /// <summary>The next event's context, as JSON and as the fields the collector's validation would find.</summary>
    private static (string Json, List<KeyValuePair<string, string>> Fields) Context()
    {
        if (Shape == ContextShape.One)
        {
            return ("""{"net_id":"ab12"}""", [new("net_id", "ab12")]);
        }

        int student;
        int notebook;
        lock (s_values)
        {
            student = s_values.Next(200);
            notebook = s_values.Next(50);
        }

        string netId = $"s{student:D3}", course = $"course-{student % 7}", book = $"nb-{notebook:D2}";
        return ($$$"""{"net_id":"{{{netId}}}","course_id":"{{{course}}}","notebook":"{{{book}}}"}""", [new("net_id", netId), new("course_id", course), new("notebook", book)]);
    }

    /// <summary>The next event's time and id, as a recording process makes them (UUIDv7 from the time).</summary>
    private static (DateTimeOffset At, Guid Id) Next()
    {
        DateTimeOffset at = Start.AddTicks(Interlocked.Increment(ref s_events) * 1000); // 0.1 ms apart
        return (at, Guid.CreateVersion7(at));
    }

    /// <param name="postgres">A PostgreSQL connection string allowed to create databases (each run uses a new one, dropped after it), or null to skip PostgreSQL.</param>
    /// <param name="eventsPerRun">Events each measured run uploads.</param>
    /// <param name="postgresWriters">The PostgreSQL store's concurrent writers (<see cref="StorageOptions.PostgreSqlWriters"/>).</param>
    /// <param name="sqlite">Whether to run SQLite too.</param>
    /// <param name="batchSizes">The batch sizes to measure (the issue's: 50 and 1,000).</param>
    /// <param name="runs">Measured runs per store and batch size, each printed (the docs give the median).</param>
    public static async Task RunAsync(string? postgres, int eventsPerRun, int postgresWriters, bool sqlite, int[] batchSizes, int runs)
    {
        Console.WriteLine($"Ingest: {Clients} clients, {eventsPerRun:N0} new events per run, {runs} runs each, context {Shape} ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}).");
        Console.WriteLine("| store | batch | events/s | requests/s | mean events per commit | CPU s per 1M events | time in commits / wall | GC pauses / wall |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        string folder = Directory.CreateTempSubdirectory("ingest-benchmark-").FullName;
        try
        {
            if (sqlite)
            {
                await RunStoreAsync("SQLite (WAL, synchronous=FULL)", new StorageOptions { Provider = StorageProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(folder, "events.db")}" }, eventsPerRun, batchSizes, runs);
            }

            if (postgres is not null)
            {
                // A database of its own, made for this invocation and dropped after it: each invocation starts from empty
                // tables (rows left by an earlier invocation would make each one slower than the one before), and the given
                // database is untouched. Within an invocation the warm-up and measured runs add to the same tables (as in
                // SQLite's file), so a later run meets larger indexes than an earlier one.
                await using var scratch = await ScratchPostgresDatabase.CreateAsync(postgres);
                await RunStoreAsync($"PostgreSQL 15, {postgresWriters} writers", new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = scratch.ConnectionString, PostgreSqlWriters = postgresWriters }, eventsPerRun, batchSizes, runs);
            }
            else
            {
                Console.WriteLine("(PostgreSQL skipped: pass --postgres <connection string> or set INSTRUMENTATION_TEST_POSTGRES)");
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task RunStoreAsync(string name, StorageOptions storage, int eventsPerRun, int[] batchSizes, int runs)
    {
        var options = new CollectorOptions { RequestsPerSecondPerKey = 0, Storage = storage };
        await using RunningCollector collector = await CollectorHost.StartAsync(options, "http://127.0.0.1:0", logging => { });
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = collector.Address,
        };

        // Not printed: a full run of each kind first, so what is measured is the steady state of a collector that has been
        // running: methods at their final JIT tier (tiered compilation recompiles hot code after its first ~30 calls and
        // loops after ~10,000 iterations, on a background thread that would otherwise take CPU from the measured run),
        // pooled connections open, the first pages of every table and index allocated.
        foreach (int batchSize in batchSizes)
        {
            await MeasureStoreOnlyAsync(collector.Store, batchSize, eventsPerRun);
            await MeasureAsync(client, collector.Store, batchSize, eventsPerRun);
        }

        foreach (int batchSize in batchSizes)
        {
            for (int run = 0; run < runs; run++)
            {
                (double storeOnly, double storeCpu, double storeBusy, double storeGc) = await MeasureStoreOnlyAsync(collector.Store, batchSize, eventsPerRun);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name}, store only (no HTTP) | {batchSize:N0} | {storeOnly:N0} | | | {storeCpu:N2} | {storeBusy:P0} | {storeGc:P1} |"));
            }

            for (int run = 0; run < runs; run++)
            {
                (double eventsPerSecond, double requestsPerSecond, double cpuPerMillion, double eventsPerCommit, double writerBusy, double gcPaused) = await MeasureAsync(client, collector.Store, batchSize, eventsPerRun);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {batchSize:N0} | {eventsPerSecond:N0} | {requestsPerSecond:N0} | {eventsPerCommit:N0} | {cpuPerMillion:N2} | {writerBusy:P0} | {gcPaused:P1} |"));
            }
        }
    }

    private static async Task<(double EventsPerSecond, double RequestsPerSecond, double CpuPerMillion, double EventsPerCommit, double WriterBusy, double GcPaused)> MeasureAsync(HttpClient client, IEventStore store, int batchSize, int events)
    {
        int requests = Math.Max(Clients, events / batchSize);
        byte[][] bodies = [.. Enumerable.Range(0, requests).Select(_ => Body(batchSize))];
        long before = (await store.GetStatisticsAsync(CancellationToken.None)).Total;
        using var commits = new CommitListener();
        int next = -1;
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        TimeSpan paused = GC.GetTotalPauseDuration();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < bodies.Length; i = Interlocked.Increment(ref next))
            {
                using var content = new ByteArrayContent(bodies[i]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using HttpResponseMessage response = await client.PostAsync("/logs/batch", content);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException($"The collector answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
            }
        })));
        clock.Stop();
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        long stored = (await store.GetStatisticsAsync(CancellationToken.None)).Total - before;
        long sent = (long)requests * batchSize;
        if (stored != sent)
        {
            throw new InvalidOperationException($"Sent {sent} new events, the store counts {stored} more.");
        }

        return (sent / clock.Elapsed.TotalSeconds, requests / clock.Elapsed.TotalSeconds, cpuSeconds / sent * 1_000_000, commits.MeanEventsPerCommit, commits.CommitSeconds / clock.Elapsed.TotalSeconds, (GC.GetTotalPauseDuration() - paused) / clock.Elapsed);
    }

    /// <summary>The same load straight into <see cref="IEventStore.InsertAsync"/>: what the store costs without HTTP and JSON.</summary>
    private static async Task<(double EventsPerSecond, double CpuPerMillion, double WriterBusy, double GcPaused)> MeasureStoreOnlyAsync(IEventStore store, int batchSize, int events)
    {
        int requests = Math.Max(Clients, events / batchSize);
        StoredEvent[][] batches = [.. Enumerable.Range(0, requests).Select(_ => Enumerable.Range(0, batchSize).Select(i =>
        {
            (DateTimeOffset at, Guid id) = Next();
            // UTF-8 bytes, as the collector's ingest hands them over (slices of the request body).
            (string context, List<KeyValuePair<string, string>> fields) = Context();
            byte[] json = Encoding.UTF8.GetBytes($$$"""{"id":"{{{id}}}","type":"cell","priority":"batch","timestamp":"{{{at.UtcDateTime:O}}}","context":{{{context}}},"data":{"notebook_id":"nb-1","cell_id":"c{{{i}}}","duration_ms":{{{i % 997}}}.5}}""");
            return new StoredEvent(id, "cell", "batch", at, json) { Context = fields };
        }).ToArray())];
        using var commits = new CommitListener();
        int next = -1;
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        TimeSpan paused = GC.GetTotalPauseDuration();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < batches.Length; i = Interlocked.Increment(ref next))
            {
                await store.InsertAsync(batches[i], CancellationToken.None);
            }
        })));
        clock.Stop();
        long sent = (long)requests * batchSize;
        return (sent / clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / sent * 1_000_000, commits.CommitSeconds / clock.Elapsed.TotalSeconds, (GC.GetTotalPauseDuration() - paused) / clock.Elapsed);
    }

    internal static byte[] Body(int batchSize)
    {
        var json = new StringBuilder("{\"events\":[");
        for (int i = 0; i < batchSize; i++)
        {
            if (i > 0)
            {
                json.Append(',');
            }

            (DateTimeOffset at, Guid id) = Next();
            json.Append(CultureInfo.InvariantCulture,
                $$$"""{"id":"{{{id}}}","type":"cell","priority":"batch","timestamp":"{{{at.UtcDateTime:O}}}","context":{{{Context().Json}}},"data":{"notebook_id":"nb-1","cell_id":"c{{{i}}}","duration_ms":{{{i % 997}}}.5}}""");
        }

        return Encoding.UTF8.GetBytes(json.Append("]}").ToString());
    }

    /// <summary>
    /// Averages <c>instrumentation.collector.commit.events</c> and sums <c>instrumentation.collector.commit.duration</c>
    /// while it lives (summed over writers: PostgreSQL's several writers may add up to more than the wall time).
    /// </summary>
    private sealed class CommitListener : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private long _commits;
        private long _events;
        private double _commitSeconds;

        public CommitListener()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == StoreMetrics.MeterName && instrument.Name is "instrumentation.collector.commit.events" or "instrumentation.collector.commit.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
            {
                lock (_listener)
                {
                    _commitSeconds += seconds;
                }
            });
            _listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
            {
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _events, value);
            });
            _listener.Start();
        }

        /// <summary>The time the writers spent in transactions (<c>instrumentation.collector.commit.duration</c>, summed).</summary>
        public double CommitSeconds
        {
            get
            {
                lock (_listener)
                {
                    return _commitSeconds;
                }
            }
        }

        public double MeanEventsPerCommit => _commits == 0 ? 0 : (double)Interlocked.Read(ref _events) / Interlocked.Read(ref _commits);

        public void Dispose() => _listener.Dispose();
    }
}
