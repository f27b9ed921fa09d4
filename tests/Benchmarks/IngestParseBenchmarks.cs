using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Instrumentation.Collector.Ingest;
using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.Sqlite;

namespace Instrumentation.Benchmarks;

/// <summary>
/// What the collector does with a batch on the request's thread before it queues it for the writer, in the steps
/// <c>POST /logs/batch</c> takes them: parse the body, validate each event (the second pass that checks UTF-8,
/// escapes, repeated names and depth, then the fields), and prepare the batch for the SQLite writer (ids and timestamps
/// as column text, counts and dashboard sums). The body is the ingest benchmark's (~220 bytes per event). Each
/// benchmark includes the steps before it; one operation is one batch.
/// </summary>
[MemoryDiagnoser]
public class IngestParseBenchmarks
{
    private byte[] _body = null!;

    [Params(50, 1000)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup() => _body = IngestBenchmark.Body(BatchSize);

    [Benchmark(Baseline = true)]
    public int Parse()
    {
        using JsonDocument document = JsonDocument.Parse(_body, new JsonDocumentOptions { MaxDepth = 256 });
        int count = 0;
        foreach (JsonElement _ in document.RootElement.GetProperty("events").EnumerateArray())
        {
            count++;
        }

        return count;
    }

    [Benchmark]
    public int ParseAndValidate() => Validate().Count;

    [Benchmark]
    public int ParseValidateAndPrepare() => new PreparedBatch(Validate()).Count;

    private List<StoredEvent> Validate()
    {
        using JsonDocument document = JsonDocument.Parse(_body, new JsonDocumentOptions { MaxDepth = 256 });
        var valid = new List<StoredEvent>(BatchSize);
        var strings = new Utf8Strings();
        foreach (JsonElement item in document.RootElement.GetProperty("events").EnumerateArray())
        {
            if (!EventValidator.TryValidate(item, _body, strings, 64 * 1024, 32, out StoredEvent? stored, out string? reason))
            {
                throw new InvalidOperationException(reason);
            }

            valid.Add(stored!);
        }

        return valid;
    }
}
