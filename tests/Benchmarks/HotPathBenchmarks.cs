using BenchmarkDotNet.Attributes;
using Instrumentation.Upload;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using Serilog;
using Serilog.Configuration;
using Serilog.Core;
using Serilog.Events;
using ZLogger;
using ILogger = Microsoft.Extensions.Logging.ILogger;

namespace Instrumentation.Benchmarks;

/// <summary>
/// What one call costs the calling thread: recording an event with three fields (notebookId, cellId, duration) into a
/// batching pipeline (batches of 50, 30 s) whose export discards the batch. Every library keeps its own background
/// work; only the caller's time and allocations are measured.
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private LogManager _ours = null!;
    private Kernel _kernel = null!;
    private Logger _serilog = null!;
    private ILoggerFactory _otelFactory = null!;
    private ILogger _otel = null!;
    private ILoggerFactory _zloggerFactory = null!;
    private ILogger _zlogger = null!;
    private ILoggerFactory _emptyFactory = null!;
    private ILogger _nothing = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new LogManagerOptions
        {
            Endpoint = new Uri("http://127.0.0.1:9/"), // never called: the transport discards
            MaxBatchSize = 50,
            MaxWaitTime = TimeSpan.FromSeconds(30),
            FlushOnProcessExit = false,
        };
        _ours = new LogManager(options, null, null, null, null, new DiscardingTransport());
        _ours.StartCore(attachToHub: true, registerProcessExit: false);
        _kernel = new Kernel();

        _serilog = new LoggerConfiguration()
            .WriteTo.Sink(new DiscardingBatchedSink(), new BatchingOptions { BatchSizeLimit = 50, BufferingTimeLimit = TimeSpan.FromSeconds(30) })
            .CreateLogger();

        _otelFactory = LoggerFactory.Create(builder => builder.AddOpenTelemetry(otel => otel.AddProcessor(
            new BatchLogRecordExportProcessor(new DiscardingExporter(), maxQueueSize: 2048, scheduledDelayMilliseconds: 30_000, exporterTimeoutMilliseconds: 30_000, maxExportBatchSize: 50))));
        _otel = _otelFactory.CreateLogger("bench");

        _zloggerFactory = LoggerFactory.Create(builder => builder.AddZLoggerStream(Stream.Null));
        _zlogger = _zloggerFactory.CreateLogger("bench");

        _emptyFactory = LoggerFactory.Create(_ => { });
        _nothing = _emptyFactory.CreateLogger("bench");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        LogManagerStatistics statistics = _ours.GetStatistics();
        Console.WriteLine($"// ours: recorded {statistics.EventsRecorded}, uploaded {statistics.EventsUploaded}, dropped {string.Join(", ", statistics.EventsDropped.Select(d => d.Key + " " + d.Value))}");
        _ours.Dispose();
        _serilog.Dispose();
        _otelFactory.Dispose();
        _zloggerFactory.Dispose();
        _emptyFactory.Dispose();
    }

    [Benchmark(Description = "ours: [LogEvent] partial method")]
    public void OursPartialMethod() => BenchEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));

    [Benchmark(Description = "ours: call-site hook, empty method")]
    public void OursHook() => _kernel.RunCell("nb-1", "c7", 12.5);

    [Benchmark(Description = "ours: Immediate event")]
    public void OursImmediate() => BenchEvents.NotebookVisited("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));

    [Benchmark(Description = "Serilog 4 batching, discarding sink")]
    public void Serilog() => _serilog.Information("cell {NotebookId} {CellId} {DurationMs}", "nb-1", "c7", 12.5);

    [Benchmark(Description = "[LoggerMessage] + OpenTelemetry batch, no-op exporter")]
    public void OpenTelemetry() => PeerLog.CellExecuted(_otel, "nb-1", "c7", 12.5);

    [Benchmark(Description = "ZLogger [ZLoggerMessage], Stream.Null")]
    public void ZLogger() => _zlogger.ZCellExecuted("nb-1", "c7", 12.5);

    [Benchmark(Baseline = true, Description = "[LoggerMessage], no providers")]
    public void NoProviders() => PeerLog.CellExecuted(_nothing, "nb-1", "c7", 12.5);

    private sealed class DiscardingBatchedSink : IBatchedLogEventSink
    {
        public Task EmitBatchAsync(IReadOnlyCollection<LogEvent> batch) => Task.CompletedTask;

        public Task OnEmptyBatchAsync() => Task.CompletedTask;
    }

    private sealed class DiscardingExporter : BaseExporter<LogRecord>
    {
        public override ExportResult Export(in Batch<LogRecord> batch) => ExportResult.Success;
    }
}

/// <summary>The events the benchmarks record.</summary>
public static partial class BenchEvents
{
    [LogEvent(Priority.Batch, Name = "cell")]
    public static partial void CellExecuted(string notebookId, string cellId, TimeSpan duration);

    [LogEvent(Priority.Immediate, Name = "notebook")]
    public static partial void NotebookVisited(string notebookId, string cellId, TimeSpan duration);
}

/// <summary>A method whose calls are hooked: the benchmark measures the hook around an empty body.</summary>
public sealed class Kernel
{
    [LogEvent(Priority.Batch, Name = "cell_run")]
    public void RunCell(string notebookId, string cellId, double elapsedMs)
    {
    }
}

/// <summary>The peers' source-generated log methods.</summary>
public static partial class PeerLog
{
    [LoggerMessage(1, LogLevel.Information, "cell {NotebookId} {CellId} {DurationMs}")]
    public static partial void CellExecuted(ILogger logger, string notebookId, string cellId, double durationMs);

    [ZLoggerMessage(LogLevel.Information, "cell {notebookId} {cellId} {durationMs}")]
    public static partial void ZCellExecuted(this ILogger logger, string notebookId, string cellId, double durationMs);
}

/// <summary>The network replaced by a transport that accepts every request at once (hot path and allocation probe).</summary>
internal sealed class DiscardingTransport : IUploadTransport
{
    private static readonly Task<UploadResponse> Accepted = Task.FromResult(new UploadResponse(UploadOutcome.Accepted, 200, null, [], null));

    public Task<UploadResponse> SendAsync(UploadKind kind, ReadOnlyMemory<byte> json, CancellationToken cancellationToken) => Accepted;
}
