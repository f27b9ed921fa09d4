using System.Collections.Concurrent;
using System.Diagnostics;
using Instrumentation.Collector.Hosting;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Benchmarks;

/// <summary>
/// Draining a backlog through faults (issue 10): 20,000 batch events and 40 immediate events recorded from 8 threads
/// (<c>MaxQueuedEvents = 100_000</c>, <c>MaxWaitTime = 500 ms</c>, everything else default) go through
/// <see cref="FaultProxy"/> to the real collector (SQLite). Every connection is dropped for the first 8 s; the figure is
/// the time from the end of that outage until every event is acknowledged. Not a test: it prints what happened.
/// </summary>
internal static class FaultRun
{
    /// <param name="trace">Print a timeline after the figures: every request the proxy saw and the uploader's own account of each (its Debug log).</param>
    public static async Task RunAsync(int batchEvents, int immediateEvents, int threads, TimeSpan outage, TimeSpan limit, int seed, bool trace = false, FaultMix mix = FaultMix.Weighted)
    {
        int total = batchEvents + immediateEvents;
        Console.WriteLine($"Fault run: {batchEvents:N0} batch + {immediateEvents:N0} immediate events from {threads} threads; {outage.TotalSeconds:N0} s outage; " +
                          $"limit {limit.TotalSeconds:N0} s after it; seed {seed}, fault mix {mix} ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}).");
        string database = Path.Combine(Path.GetTempPath(), $"faults-{Environment.ProcessId}.db");
        try
        {
            await using RunningCollector collector = await CollectorHost.StartAsync(
                new CollectorOptions { DatabasePath = database, RequestsPerSecondPerKey = 0 },
                "http://127.0.0.1:0",
                logging => { });
            await using FaultProxy proxy = await FaultProxy.StartAsync(collector.Address, seed, tracing: trace, mix: mix);
            DateTimeOffset outageEnd = DateTimeOffset.UtcNow + outage;
            long outageEndTimestamp = Stopwatch.GetTimestamp() + (long)(outage.TotalSeconds * Stopwatch.Frequency);
            proxy.OutageUntil = outageEnd;
            var uploaderLog = new TraceLoggerProvider();
            using ILoggerFactory? loggerFactory = trace
                ? LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(uploaderLog))
                : null;

            var options = new LogManagerOptions
            {
                Endpoint = proxy.Address,
                MaxQueuedEvents = 100_000,
                MaxWaitTime = TimeSpan.FromMilliseconds(500),
                FlushOnProcessExit = false,
            };
            await using LogManager logs = LogManager.Start(options, loggerFactory);
            Record(batchEvents, immediateEvents, threads);
            Console.WriteLine($"recorded {total:N0} events; pending {logs.PendingCount:N0}; outage ends in {(outageEnd - DateTimeOffset.UtcNow).TotalSeconds:N1} s");

            TimeSpan untilEnd = outageEnd - DateTimeOffset.UtcNow;
            if (untilEnd > TimeSpan.Zero)
            {
                await Task.Delay(untilEnd);
            }

            long requestsAtOutageEnd = proxy.Requests;
            LogManagerStatistics atOutageEnd = logs.GetStatistics();
            Console.WriteLine($"outage over: uploaded {atOutageEnd.EventsUploaded:N0}, pending {atOutageEnd.PendingCount:N0}, requests so far {requestsAtOutageEnd:N0}");
            var clock = Stopwatch.StartNew();
            TimeSpan cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
            TimeSpan nextReport = TimeSpan.FromSeconds(10);
            LogManagerStatistics statistics = atOutageEnd;
            while (clock.Elapsed < limit)
            {
                statistics = logs.GetStatistics();
                if (statistics.PendingCount == 0 && statistics.EventsUploaded + statistics.EventsDeadLettered + statistics.EventsDropped.Values.Sum() >= total)
                {
                    break;
                }

                if (clock.Elapsed >= nextReport)
                {
                    Console.WriteLine($"  {clock.Elapsed.TotalSeconds,5:N0} s: uploaded {statistics.EventsUploaded:N0}, pending {statistics.PendingCount:N0}, requests {proxy.Requests - requestsAtOutageEnd:N0}, stored {(await collector.Store.GetStatisticsAsync(CancellationToken.None)).Total:N0}");
                    nextReport += TimeSpan.FromSeconds(10);
                }

                await Task.Delay(50);
            }

            TimeSpan elapsed = clock.Elapsed;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalSeconds;
            // The store keeps one row per id (its key), so a repeat upload cannot show here: it shows as stored < uploaded.
            long stored = (await collector.Store.GetStatisticsAsync(CancellationToken.None)).Total;
            bool done = statistics.PendingCount == 0 && statistics.EventsUploaded >= total;
            long requestsAfter = proxy.Requests - requestsAtOutageEnd;

            Console.WriteLine();
            Console.WriteLine("| figure | value |");
            Console.WriteLine("| --- | ---: |");
            Console.WriteLine(done
                ? $"| **time from the end of the outage until all {total:N0} events were acknowledged** | **{elapsed.TotalSeconds:N1} s** |"
                : $"| **not all acknowledged within {limit.TotalSeconds:N0} s after the outage** | **{statistics.EventsUploaded:N0} of {total:N0} acknowledged, {statistics.PendingCount:N0} pending** |");
            Console.WriteLine($"| events acknowledged per second after the outage | {(statistics.EventsUploaded - atOutageEnd.EventsUploaded) / elapsed.TotalSeconds:N0} |");
            Console.WriteLine($"| events stored by the collector (one row per id) | {stored:N0} |");
            Console.WriteLine($"| dead-lettered / dropped | {statistics.EventsDeadLettered:N0} / {statistics.EventsDropped.Values.Sum():N0} {string.Join(", ", statistics.EventsDropped.Select(d => d.Key + " " + d.Value))} |");
            Console.WriteLine($"| requests after the outage (to the proxy) / of which forwarded | {requestsAfter:N0} / {proxy.Forwarded:N0} (forwarded counts the whole run) |");
            Console.WriteLine($"| uploader's requests: immediate / batch (whole run) | {statistics.ImmediateRequests:N0} / {statistics.BatchRequests:N0} |");
            Console.WriteLine($"| process CPU time after the outage | {cpu:N1} s |");
            Console.WriteLine($"| faults injected (whole run) | {string.Join(", ", proxy.Faults.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + ": " + f.Value))} |");
            if (trace)
            {
                PrintTrace(proxy.Trace, uploaderLog.Lines, outageEndTimestamp, elapsed);
            }
        }
        finally
        {
            foreach (string file in Instrumentation.Collector.Storage.Sqlite.SqliteEventStore.FilesOf(database))
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>
    /// The timeline (seconds from the end of the outage): each request the proxy saw, from arrival to answer, with its
    /// answer and events, merged with the uploader's Debug lines (request started; answered, with how long its events
    /// wait, when the endpoint is ready, the circuit). Then where the time went: how long no request was in flight,
    /// fewer than the four allowed, and when the first request after the outage arrived.
    /// </summary>
    private static void PrintTrace(IReadOnlyList<ProxiedRequest> requests, IReadOnlyList<(long At, string Text)> log, long origin, TimeSpan elapsed)
    {
        static double Seconds(long timestamp, long origin) => (double)(timestamp - origin) / Stopwatch.Frequency;
        Console.WriteLine();
        Console.WriteLine("Timeline (s from the end of the outage; 'proxy' lines: arrival → answer, answer kind, events):");
        var lines = new List<(double At, string Text)>();
        lines.AddRange(requests.Select(r => (Seconds(r.Arrived, origin), $"proxy    {Seconds(r.Arrived, origin),7:F3} → {Seconds(r.Answered, origin),7:F3}  {r.Answer,-34} {r.Events,5} events")));
        lines.AddRange(log.Select(l => (Seconds(l.At, origin), $"uploader {Seconds(l.At, origin),7:F3}  {l.Text}")));
        foreach ((double _, string text) in lines.OrderBy(l => l.At))
        {
            Console.WriteLine("  " + text);
        }

        // Requests in flight at the proxy after the outage, by the second: idle slots are where the drain waits.
        double end = elapsed.TotalSeconds;
        var edges = requests.Where(r => Seconds(r.Answered, origin) > 0)
            .SelectMany(r => new[] { (At: Math.Max(0, Seconds(r.Arrived, origin)), Delta: 1), (At: Seconds(r.Answered, origin), Delta: -1) })
            .OrderBy(e => e.At).ThenBy(e => e.Delta).ToList();
        double[] timeAt = new double[6];
        int inFlight = 0;
        double last = 0;
        foreach ((double at, int delta) in edges.Where(e => e.At <= end).Append((end, 0)))
        {
            timeAt[Math.Min(inFlight, 5)] += at - last;
            last = at;
            inFlight += delta;
        }

        // The union of the waits the server asked for (Retry-After): no request may start then, whatever the uploader does.
        double paused = 0;
        double pausedTo = 0;
        int retryAfters = 0;
        foreach ((double from, double to) in requests.Where(r => r.PausedUntil != 0)
            .Select(r => (From: Math.Max(0, Seconds(r.Answered, origin)), To: Math.Min(end, Seconds(r.PausedUntil, origin))))
            .Where(p => p.To > p.From).OrderBy(p => p.From))
        {
            retryAfters++;
            double start = Math.Max(from, pausedTo);
            if (to > start)
            {
                paused += to - start;
                pausedTo = to;
            }
        }

        double? first = requests.Select(r => Seconds(r.Arrived, origin)).Where(t => t >= 0).Order().Cast<double?>().FirstOrDefault();
        Console.WriteLine();
        Console.WriteLine($"After the outage ({end:F1} s): {retryAfters} Retry-After answers paused the endpoint for {paused:F1} s in all; first request at {first:F2} s; time with 0 / 1 / 2 / 3 / 4 / 5+ requests in flight: {string.Join(" / ", timeAt.Select(t => t.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} s");
    }

    /// <summary>Keeps the uploader's log lines with a Stopwatch timestamp, for the timeline.</summary>
    private sealed class TraceLoggerProvider : ILoggerProvider, ILogger
    {
        private readonly ConcurrentQueue<(long At, string Text)> _lines = new();

        public IReadOnlyList<(long At, string Text)> Lines => [.. _lines];

        public ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue((Stopwatch.GetTimestamp(), $"{logLevel,-11} {formatter(state, exception)}"));
    }

    /// <summary>Records from <paramref name="threads"/> threads at once, each its share, immediate events spread among the batch ones.</summary>
    private static void Record(int batchEvents, int immediateEvents, int threads)
    {
        using var start = new Barrier(threads);
        Thread[] writers = [.. Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            int batch = batchEvents / threads + (t < batchEvents % threads ? 1 : 0);
            int immediate = immediateEvents / threads + (t < immediateEvents % threads ? 1 : 0);
            int every = immediate == 0 ? int.MaxValue : Math.Max(1, batch / immediate);
            string notebook = "nb-" + t;
            start.SignalAndWait();
            for (int i = 0, sent = 0; i < batch; i++)
            {
                BenchEvents.CellExecuted(notebook, "c" + i, TimeSpan.FromMilliseconds(i % 100));
                if (sent < immediate && i % every == 0)
                {
                    BenchEvents.NotebookVisited(notebook, "c" + i, TimeSpan.Zero);
                    sent++;
                }
            }

            for (int sent = Math.Min(immediate, (batch + every - 1) / every); sent < immediate; sent++)
            {
                BenchEvents.NotebookVisited(notebook, "extra", TimeSpan.Zero);
            }
        }))];
        foreach (Thread writer in writers)
        {
            writer.Start();
        }

        foreach (Thread writer in writers)
        {
            writer.Join();
        }
    }
}
