using System.Diagnostics;
using Instrumentation.Collector.Hosting;

namespace Instrumentation.Benchmarks;

/// <summary>
/// Draining a backlog through faults (issue 10): 20,000 batch events and 40 immediate events recorded from 8 threads
/// (<c>MaxQueuedEvents = 100_000</c>, <c>MaxWaitTime = 500 ms</c>, everything else default) go through
/// <see cref="FaultProxy"/> to the real collector (SQLite). Every connection is dropped for the first 8 s; the figure is
/// the time from the end of that outage until every event is acknowledged. Not a test: it prints what happened.
/// </summary>
internal static class FaultRun
{
    public static async Task RunAsync(int batchEvents, int immediateEvents, int threads, TimeSpan outage, TimeSpan limit, int seed)
    {
        int total = batchEvents + immediateEvents;
        Console.WriteLine($"Fault run: {batchEvents:N0} batch + {immediateEvents:N0} immediate events from {threads} threads; {outage.TotalSeconds:N0} s outage; " +
                          $"limit {limit.TotalSeconds:N0} s after it; seed {seed} ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}).");
        string database = Path.Combine(Path.GetTempPath(), $"faults-{Environment.ProcessId}.db");
        try
        {
            await using RunningCollector collector = await CollectorHost.StartAsync(
                new CollectorOptions { DatabasePath = database, RequestsPerSecondPerKey = 0 },
                "http://127.0.0.1:0",
                logging => { });
            await using FaultProxy proxy = await FaultProxy.StartAsync(collector.Address, seed);
            DateTimeOffset outageEnd = DateTimeOffset.UtcNow + outage;
            proxy.OutageUntil = outageEnd;

            var options = new LogManagerOptions
            {
                Endpoint = proxy.Address,
                MaxQueuedEvents = 100_000,
                MaxWaitTime = TimeSpan.FromMilliseconds(500),
                FlushOnProcessExit = false,
            };
            await using LogManager logs = LogManager.Start(options);
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
        }
        finally
        {
            foreach (string file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
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
