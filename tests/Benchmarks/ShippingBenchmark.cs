using System.Diagnostics;
using Instrumentation.Collector.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using Serilog;

namespace Instrumentation.Benchmarks;

/// <summary>
/// What shipping costs: N events through each whole pipeline to a server on loopback. Prints events per second, CPU
/// seconds per million events (this process: client and in-process server together), requests and bytes on the wire.
/// </summary>
internal static class ShippingBenchmark
{
    public static async Task RunAsync(int events)
    {
        Console.WriteLine($"Shipping {events:N0} events per run ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}).");
        Console.WriteLine("| pipeline | receiver | events/s | CPU s per 1M events | requests | bytes on the wire | bytes before compression |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");

        int warmUp = Math.Min(events, 250_000);
        await using (CountingReceiver receiver = await CountingReceiver.StartAsync())
        {
            // Not printed: JIT, first connections, gzip and Kestrel start-up would otherwise land on the first row only.
            await WarmUpAsync(async () =>
            {
                await RunOursAsync(warmUp, receiver.Address, "counting receiver", gzip: true, receiver);
                await RunSerilogSeqAsync(warmUp, receiver);
                await RunOtlpAsync(warmUp, receiver);
            });
            await RunOursAsync(events, receiver.Address, "counting receiver", gzip: true, receiver);
            await RunOursAsync(events, receiver.Address, "counting receiver", gzip: false, receiver);
            await RunOursAsync(events, receiver.Address, "counting receiver", gzip: true, receiver, batchSize: 1000);
            await RunOursAsync(events, receiver.Address, "counting receiver", gzip: false, receiver, batchSize: 1000);
            await RunSerilogSeqAsync(events, receiver);
            await RunOtlpAsync(events, receiver);
        }

        string database = Path.Combine(Path.GetTempPath(), $"shipping-{Environment.ProcessId}.db");
        await using (RunningCollector collector = await CollectorHost.StartAsync(new CollectorOptions { DatabasePath = database, RequestsPerSecondPerKey = 0 }, "http://127.0.0.1:0"))
        {
            await WarmUpAsync(() => RunOursAsync(warmUp, collector.Address, "collector + SQLite", gzip: true, receiver: null));
            await RunOursAsync(events, collector.Address, "collector + SQLite", gzip: true, receiver: null);
        }

        foreach (string file in Instrumentation.Collector.Storage.Sqlite.SqliteEventStore.FilesOf(database))
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Ours at default options against OpenTelemetry's OTLP/HTTP exporter at its defaults, to one counting receiver, in
    /// one run: events/s and process CPU seconds per million events, two rounds each (in turns, so that a slow moment
    /// of a shared machine does not fall on one pipeline only).
    /// </summary>
    public static async Task RunDefaultsComparisonAsync(int events)
    {
        Console.WriteLine($"Shipping at default options, {events:N0} events per run ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}).");
        Console.WriteLine("| pipeline | round | events/s | CPU s per 1M events | requests | bytes on the wire | events delivered | JIT ms in the run |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        await using CountingReceiver receiver = await CountingReceiver.StartAsync();
        await WarmUpAsync(async () =>
        {
            await RunOursAtDefaultsAsync(Math.Min(events, 250_000), receiver, round: 0);
            await RunOtlpAsync(Math.Min(events, 250_000), receiver, defaults: true, round: 0);
        });
        for (int round = 1; round <= 2; round++)
        {
            await RunOursAtDefaultsAsync(events, receiver, round);
            await RunOtlpAsync(events, receiver, defaults: true, round);
        }
    }

    private static async Task RunOursAtDefaultsAsync(int events, CountingReceiver receiver, int round)
    {
        receiver.Reset();
        var options = new LogManagerOptions { Endpoint = receiver.Address, FlushOnProcessExit = false }; // everything else default
        Measurement measurement = Measurement.Start();
        LogManagerStatistics statistics;
        await using (LogManager logs = LogManager.Start(options))
        {
            for (int i = 0; i < events; i++)
            {
                BenchEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));
                if ((i & 0x3FF) == 0)
                {
                    // The default cap is 10,000 pending events: a producer this fast waits at half of it, so none is dropped.
                    while (logs.PendingCount > options.MaxQueuedEvents / 2)
                    {
                        await Task.Delay(1);
                    }
                }
            }

            await logs.FlushAsync();
            statistics = logs.GetStatistics();
        }

        (double rate, double cpu) = measurement.Stop(events);
        Console.WriteLine($"| Instrumentation LogManager, default options (batches of {options.MaxBatchSize}, gzip) | {round} | {rate:N0} | {cpu:N2} | {receiver.Requests:N0} | {receiver.Bytes:N0} | {statistics.EventsUploaded:N0} | {measurement.JitMilliseconds:N0} |");
    }

    /// <summary>The most warm-up rounds before measuring, whether or not the JIT has settled.</summary>
    private const int MaxWarmUpRounds = 6;

    /// <summary>A warm-up round that spent less than this compiling is taken as "the JIT has settled".</summary>
    private static readonly TimeSpan SettledJitTime = TimeSpan.FromMilliseconds(50);

    /// <summary>How long the warm-up idles after each round so that the background compiler catches up.</summary>
    private static readonly TimeSpan SettlePause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs <paramref name="run"/> until a round spends (almost) no time in the JIT. Why: tiered compilation with dynamic
    /// PGO compiles each hot method three times (quick, instrumented, optimized), on a background thread, seconds after
    /// its first calls; on this 2-core machine one warm-up round did not finish it, and the rest of that compiling
    /// (over a CPU-second) was charged to whichever measured round came next, so the first rows looked up to twice as
    /// costly as later ones of the same pipeline.
    /// </summary>
    private static async Task WarmUpAsync(Func<Task> run)
    {
        TextWriter console = Console.Out;
        Console.SetOut(TextWriter.Null);
        int rounds = 0;
        TimeSpan jit;
        try
        {
            do
            {
                TimeSpan before = System.Runtime.JitInfo.GetCompilationTime();
                await run();

                // Idle for a moment: tier-up waits for a pause in new compiling, then its queue drains on a background thread.
                await Task.Delay(SettlePause);
                jit = System.Runtime.JitInfo.GetCompilationTime() - before;
                rounds++;
            }
            while (jit >= SettledJitTime && rounds < MaxWarmUpRounds);
        }
        finally
        {
            Console.SetOut(console);
        }

        Console.Error.WriteLine($"(warm-up: {rounds} round(s), {jit.TotalMilliseconds:N0} ms of JIT in the last, {System.Runtime.JitInfo.GetCompiledMethodCount():N0} methods compiled so far)");
    }

    private static async Task RunOursAsync(int events, Uri endpoint, string receiverName, bool gzip, CountingReceiver? receiver, int batchSize = 50)
    {
        receiver?.Reset();
        var options = new LogManagerOptions
        {
            Endpoint = endpoint,
            EnableCompression = gzip,
            MaxBatchSize = batchSize,
            FlushOnProcessExit = false,
            MaxQueuedEvents = 200_000,
            MaxQueuedBytes = 256L * 1024 * 1024,
        };
        Measurement measurement = Measurement.Start();
        LogManagerStatistics statistics;
        await using (LogManager logs = LogManager.Start(options))
        {
            for (int i = 0; i < events; i++)
            {
                BenchEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));
                if ((i & 0xFFF) == 0)
                {
                    // Keep within the queue caps: a producer this fast would otherwise just measure the drop counter.
                    while (logs.PendingCount > 100_000)
                    {
                        await Task.Delay(1);
                    }
                }
            }

            await logs.FlushAsync();
            statistics = logs.GetStatistics();
        }

        (double rate, double cpu) = measurement.Stop(events);
        long requests = receiver?.Requests ?? statistics.ImmediateRequests + statistics.BatchRequests;
        long wire = receiver?.Bytes ?? statistics.BytesSent;
        Console.WriteLine($"| Instrumentation LogManager, batches of {batchSize}{(gzip ? ", gzip" : ", no gzip")} | {receiverName} | {rate:N0} | {cpu:N2} | {requests:N0} | {wire:N0} | {statistics.BytesBeforeCompression:N0} |");
        long lost = events - statistics.EventsUploaded;
        if (lost != 0)
        {
            Console.WriteLine($"|   (not delivered: {lost:N0}; dropped {string.Join(", ", statistics.EventsDropped.Select(d => d.Key + " " + d.Value))}) | | | | | | |");
        }
    }

    private static async Task RunSerilogSeqAsync(int events, CountingReceiver receiver)
    {
        receiver.Reset();
        Measurement measurement = Measurement.Start();
        await using (Serilog.Core.Logger log = new LoggerConfiguration().WriteTo.Seq(receiver.Address.ToString(), queueSizeLimit: 2_000_000).CreateLogger())
        {
            for (int i = 0; i < events; i++)
            {
                log.Information("cell {NotebookId} {CellId} {DurationMs}", "nb-1", "c7", 12.5);
            }
        }

        (double rate, double cpu) = measurement.Stop(events);
        Console.WriteLine($"| Serilog + Seq sink (CLEF) | counting receiver | {rate:N0} | {cpu:N2} | {receiver.Requests:N0} | {receiver.Bytes:N0} | n/a |");
    }

    private static async Task RunOtlpAsync(int events, CountingReceiver receiver, bool defaults = false, int round = 0)
    {
        receiver.Reset();
        Measurement measurement = Measurement.Start();
        using (ILoggerFactory factory = LoggerFactory.Create(builder => builder.AddOpenTelemetry(otel => otel.AddOtlpExporter((exporter, processor) =>
        {
            exporter.Endpoint = new Uri(receiver.Address, "v1/logs");
            exporter.Protocol = OtlpExportProtocol.HttpProtobuf;

            // Its default queue (2,048) drops most of a tight loop's records; a queue that holds them all is the only
            // change from its defaults (batches of 512, every 5 s or when full), so that both deliver every event.
            processor.BatchExportProcessorOptions.MaxQueueSize = 2_000_000;
            if (!defaults)
            {
                processor.BatchExportProcessorOptions.MaxExportBatchSize = 512;
            }
        }))))
        {
            Microsoft.Extensions.Logging.ILogger logger = factory.CreateLogger("shipping");
            for (int i = 0; i < events; i++)
            {
                PeerLog.CellExecuted(logger, "nb-1", "c7", 12.5);
            }
        }

        await Task.Yield();
        (double rate, double cpu) = measurement.Stop(events);
        if (defaults)
        {
            Console.WriteLine($"| [LoggerMessage] + OpenTelemetry OTLP/HTTP protobuf, default options (batches of 512, queue raised to 2,000,000) | {round} | {rate:N0} | {cpu:N2} | {receiver.Requests:N0} | {receiver.Bytes:N0} | not counted (protobuf) | {measurement.JitMilliseconds:N0} |");
            return;
        }

        Console.WriteLine($"| [LoggerMessage] + OpenTelemetry OTLP/HTTP protobuf | counting receiver | {rate:N0} | {cpu:N2} | {receiver.Requests:N0} | {receiver.Bytes:N0} | n/a |");
    }

    private readonly record struct Measurement(Stopwatch Clock, TimeSpan Cpu, TimeSpan Jit)
    {
        public static Measurement Start()
        {
            GC.Collect();
            return new Measurement(Stopwatch.StartNew(), Process.GetCurrentProcess().TotalProcessorTime, System.Runtime.JitInfo.GetCompilationTime());
        }

        /// <summary>Time the JIT spent compiling (any thread) since <see cref="Start"/>: CPU that is warm-up, not shipping.</summary>
        public double JitMilliseconds => (System.Runtime.JitInfo.GetCompilationTime() - Jit).TotalMilliseconds;

        public (double EventsPerSecond, double CpuSecondsPerMillion) Stop(int events)
        {
            double seconds = Clock.Elapsed.TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - Cpu).TotalSeconds;
            return (events / seconds, cpu / events * 1_000_000);
        }
    }

    /// <summary>A Kestrel server on 127.0.0.1 that reads every request body, counts it, and answers 200.</summary>
    private sealed class CountingReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private long _requests;
        private long _bytes;

        private CountingReceiver(WebApplication app) => _app = app;

        public Uri Address { get; private set; } = null!;

        public long Requests => Interlocked.Read(ref _requests);

        public long Bytes => Interlocked.Read(ref _bytes);

        public static async Task<CountingReceiver> StartAsync()
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
            builder.Logging.ClearProviders();
            WebApplication app = builder.Build();
            var receiver = new CountingReceiver(app);
            app.Run(receiver.CountAsync);
            await app.StartAsync();
            receiver.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return receiver;
        }

        public void Reset()
        {
            Interlocked.Exchange(ref _requests, 0);
            Interlocked.Exchange(ref _bytes, 0);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private async Task CountAsync(HttpContext context)
        {
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _bytes, total);
            context.Response.StatusCode = 200;
        }
    }
}
