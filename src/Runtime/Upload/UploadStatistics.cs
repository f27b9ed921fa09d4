using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Instrumentation.Upload;

/// <summary>
/// Counts what the pipeline does, twice over: as instruments on the <c>Instrumentation</c> meter (for
/// OpenTelemetry and dotnet-counters) and as plain totals for <see cref="LogManager.GetStatistics"/>.
/// </summary>
internal sealed class UploadStatistics : IDisposable
{
    public const string MeterName = "Instrumentation";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _recorded;
    private readonly Counter<long> _uploaded;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _requests;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _uploadDuration;
    private readonly ConcurrentDictionary<string, long> _droppedByReason = new(StringComparer.Ordinal);
    private long _recordedTotal;
    private long _uploadedTotal;
    private long _retriedTotal;
    private long _deadLetteredTotal;
    private long _immediateRequests;
    private long _batchRequests;
    private long _bytesBeforeCompression;
    private long _bytesSent;
    private long _replayed;
    private long _durable;
    private long _spoolBytes;
    private long _spoolCorruptBytes;

    public UploadStatistics(IMeterFactory? meterFactory, Func<long> queueDepth, bool hasSpool = false)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _recorded = _meter.CreateCounter<long>("instrumentation.events.recorded", "{event}", "Events handed to the uploader.");
        _uploaded = _meter.CreateCounter<long>("instrumentation.events.uploaded", "{event}", "Events the collector accepted.");
        _retried = _meter.CreateCounter<long>("instrumentation.events.retried", "{event}", "Events queued again after a failed or partly rejected upload.");
        _deadLettered = _meter.CreateCounter<long>("instrumentation.events.dead_lettered", "{event}", "Events refused for good or out of retries.");
        _dropped = _meter.CreateCounter<long>("instrumentation.events.dropped", "{event}", "Events dropped before upload, by reason.");
        _requests = _meter.CreateCounter<long>("instrumentation.requests", "{request}", "Upload requests, by kind and outcome.");
        _batchSize = _meter.CreateHistogram<int>("instrumentation.batch.size", "{event}", "Events per batch request.");
        _uploadDuration = _meter.CreateHistogram<double>("instrumentation.upload.duration", "s", "Time from sending a request to its answer.");
        _meter.CreateObservableGauge("instrumentation.queue.depth", queueDepth, "{event}", "Events waiting to be uploaded.");
        if (hasSpool)
        {
            // Only in durable mode: without a spool a 0 would read as "an empty spool", not "no spool".
            _meter.CreateObservableGauge("instrumentation.spool.bytes", () => Interlocked.Read(ref _spoolBytes), "By", "Bytes of events in the spool (durable mode).");
        }
    }

    /// <summary>The meter the instruments live on (tests attach a MetricCollector to it).</summary>
    public Meter Meter => _meter;

    public void Recorded() { Interlocked.Increment(ref _recordedTotal); _recorded.Add(1); }

    public void Uploaded(int count) { Interlocked.Add(ref _uploadedTotal, count); _uploaded.Add(count); }

    public void Retried(int count) { Interlocked.Add(ref _retriedTotal, count); _retried.Add(count); }

    public void DeadLettered(int count, string reason)
    {
        Interlocked.Add(ref _deadLetteredTotal, count);
        _deadLettered.Add(count, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Dropped(int count, string reason)
    {
        // The overload with an argument: no closure is allocated per drop.
        _droppedByReason.AddOrUpdate(reason, static (_, added) => added, static (_, total, added) => total + added, (long)count);
        _dropped.Add(count, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Replayed(long count) => Interlocked.Add(ref _replayed, count);

    public void Durable(long count) => Interlocked.Add(ref _durable, count);

    public void Spool(long bytes, long corruptBytes)
    {
        Interlocked.Exchange(ref _spoolBytes, bytes);
        Interlocked.Exchange(ref _spoolCorruptBytes, corruptBytes);
    }

    public void AddRequest(UploadKind kind, int bytesBeforeCompression, int bytesSent)
    {
        Interlocked.Increment(ref kind == UploadKind.Single ? ref _immediateRequests : ref _batchRequests);
        Interlocked.Add(ref _bytesBeforeCompression, bytesBeforeCompression);
        Interlocked.Add(ref _bytesSent, bytesSent);
    }

    public void Answered(UploadKind kind, UploadOutcome outcome, int events, TimeSpan duration)
    {
        var tags = new TagList { { "kind", kind == UploadKind.Single ? "immediate" : "batch" }, { "outcome", OutcomeName(outcome) } };
        _requests.Add(1, tags);
        _uploadDuration.Record(duration.TotalSeconds, tags);
        if (kind == UploadKind.Batch)
        {
            _batchSize.Record(events);
        }
    }

    public LogManagerStatistics Snapshot(long pending) => new(
        Interlocked.Read(ref _recordedTotal),
        Interlocked.Read(ref _uploadedTotal),
        Interlocked.Read(ref _retriedTotal),
        Interlocked.Read(ref _deadLetteredTotal),
        new Dictionary<string, long>(_droppedByReason, StringComparer.Ordinal),
        Interlocked.Read(ref _immediateRequests),
        Interlocked.Read(ref _batchRequests),
        Interlocked.Read(ref _bytesBeforeCompression),
        Interlocked.Read(ref _bytesSent),
        pending,
        Interlocked.Read(ref _replayed),
        Interlocked.Read(ref _durable),
        Interlocked.Read(ref _spoolBytes),
        Interlocked.Read(ref _spoolCorruptBytes));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static string OutcomeName(UploadOutcome outcome) => outcome switch
    {
        UploadOutcome.Accepted => "accepted",
        UploadOutcome.ServerError => "server_error",
        UploadOutcome.Throttled => "throttled",
        UploadOutcome.NetworkError => "network_error",
        UploadOutcome.TooLarge => "too_large",
        UploadOutcome.BadRequest => "bad_request",
        UploadOutcome.UnexpectedResponse => "unexpected_response",
        _ => "unauthorized",
    };
}
