namespace Instrumentation;

/// <summary>
/// Settings of <see cref="LogManager"/>, all in one place with their defaults. Bindable from configuration (section
/// <c>Instrumentation</c>) and validated when the manager starts. docs/configuration.md lists every option.
/// </summary>
public sealed class LogManagerOptions
{
    /// <summary>The configuration section <c>AddInstrumentation</c> reads by default.</summary>
    public const string SectionName = "Instrumentation";

    /// <summary>The environment variable that supplies <see cref="Endpoint"/> when it is not set.</summary>
    public const string EndpointEnvironmentVariable = "INSTRUMENTATION_ENDPOINT";

    /// <summary>
    /// The collector's base address; events go to <c>{Endpoint}/logs</c> and <c>{Endpoint}/logs/batch</c>.
    /// When null, the <c>INSTRUMENTATION_ENDPOINT</c> environment variable is used. Required.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>An API key sent as <c>Authorization: Bearer {ApiKey}</c>; none when null.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Fields every event carries in its <c>context</c> (for example <c>net_id</c>, <c>course_id</c>).</summary>
    public Dictionary<string, string> Context { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A batch is sent when it holds this many events. Default 50.</summary>
    public int MaxBatchSize { get; set; } = 50;

    /// <summary>A batch is sent when its JSON reaches this many bytes (before compression). Default 512 KiB.</summary>
    public int MaxBatchBytes { get; set; } = 512 * 1024;

    /// <summary>A batch is sent this long after its first event arrived, full or not. Default 30 s.</summary>
    public TimeSpan MaxWaitTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long disposal, host shutdown and process exit wait for pending events to be delivered. Default 5 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most this many events wait in memory; past it the oldest batch events are dropped first. Default 10,000.</summary>
    public int MaxQueuedEvents { get; set; } = 10_000;

    /// <summary>At most this many bytes of event JSON wait in memory; past it the oldest batch events are dropped first. Default 16 MiB.</summary>
    public long MaxQueuedBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Whether request bodies above <see cref="CompressionThreshold"/> are sent gzip-compressed. Default true.</summary>
    public bool EnableCompression { get; set; } = true;

    /// <summary>Request bodies of at least this many bytes are compressed (when <see cref="EnableCompression"/>). Default 1 KiB.</summary>
    public int CompressionThreshold { get; set; } = 1024;

    /// <summary>How many immediate events may be uploading at once. Default 4.</summary>
    public int MaxConcurrentImmediateUploads { get; set; } = 4;

    /// <summary>How long one request may take before it counts as a network error. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The base of the exponential backoff after a failed upload (full jitter), and of the first probes' waits while the
    /// circuit is open. A request's backoff grows only with its own failures; a server that is down is left alone by the
    /// circuit breaker, and one that throttles by its <c>Retry-After</c>. Default 250 ms.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest backoff; also the pause after 401/403. Default 5 min.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The retry budget: how many times one event may be sent and answered with a server error (408, 500, 502, 504)
    /// before it is dead-lettered. Network errors, 429 and 503 (the server is away or asks us to wait) do not use it:
    /// those events wait, bounded by <see cref="MaxQueuedEvents"/> and <see cref="MaxQueuedBytes"/>. Default 8.
    /// </summary>
    public int MaxRetryAttempts { get; set; } = 8;

    /// <summary>The shortest wait a <c>Retry-After</c> header is stretched to. Default 1 s.</summary>
    public TimeSpan MinRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait a <c>Retry-After</c> header is clamped to. Default 10 min.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After this many failed requests in a row the circuit opens: immediate events stop trying on their own and join
    /// the batch, and only the batch lane probes the server after each backoff. Default 5.
    /// </summary>
    public int CircuitBreakerThreshold { get; set; } = 5;

    /// <summary>Whether a plain console app flushes on <see cref="AppDomain.ProcessExit"/> (within <see cref="ShutdownTimeout"/>). Default true.</summary>
    public bool FlushOnProcessExit { get; set; } = true;

    /// <summary>
    /// Durable mode: when set, every event is appended to a segment file in this directory before it is uploaded, and
    /// removed only once the collector has acknowledged it (or it was dead-lettered); what a killed process leaves is
    /// replayed at the next start. One process per directory. Null (the default) keeps events in memory only.
    /// </summary>
    public string? SpoolDirectory { get; set; }

    /// <summary>When spool writes are forced to disk. Default <see cref="SpoolFlushPolicy.Interval"/>.</summary>
    public SpoolFlushPolicy SpoolFlushPolicy { get; set; } = SpoolFlushPolicy.Interval;

    /// <summary>How often <see cref="SpoolFlushPolicy.Interval"/> forces the spool to disk. Default 200 ms.</summary>
    public TimeSpan SpoolFlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A spool segment file is closed and a new one started at this size. Default 4 MiB.</summary>
    public long SpoolSegmentBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>The spool's size cap; past it the oldest segments go (their batch events dropped, immediate events kept). Default 256 MiB.</summary>
    public long MaxSpoolBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Events older than this are dropped from the spool (batch events first). Default 7 days.</summary>
    public TimeSpan MaxSpoolAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Called (on the upload loop's thread; during shutdown, on the thread that stops it, for answers that came in as
    /// the loop stopped) with events the server refused for good or that ran out of retries. Not
    /// called for drops (queue caps, shutdown, spool caps): those are counted by reason on
    /// <c>instrumentation.events.dropped</c> and in <see cref="LogManagerStatistics.EventsDropped"/>.
    /// </summary>
    public Action<IReadOnlyList<DeadLetter>>? OnDeadLetter { get; set; }

    /// <summary>
    /// When more than <see cref="MaxBatchSize"/> batch events already wait (after an outage, a burst, a spool
    /// replay), one request carries up to this many, so a backlog drains in few requests. Never more than
    /// <see cref="MaxBatchBytes"/> of request body, nor the collector's limit of 1,000 events per batch. Default 1,000.
    /// </summary>
    public int MaxBacklogBatchSize { get; set; } = 1000;

    /// <summary>
    /// How many batch requests may be in flight at once. Upload order is then not event order (the collector orders
    /// by timestamp and id). While the circuit is open, one probe at a time; after a <c>Retry-After</c> wait, one request
    /// until the server takes one. Default 4.
    /// </summary>
    public int MaxConcurrentBatchUploads { get; set; } = 4;

    /// <summary>
    /// While the circuit is open, the longest wait between two probes (each waits between half and all of a backoff that
    /// grows with the failures in a row, up to this). A probe is one request of at most <see cref="MaxBatchSize"/>
    /// events, so probing costs the server and the network little, and this bounds how long a backlog waits after the
    /// collector or the network comes back. A <c>Retry-After</c> still holds, and replaces the probe's wait. Default 3 s.
    /// </summary>
    public TimeSpan CircuitProbeMaxDelay { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>The endpoint, or the one the environment variable names.</summary>
    internal Uri? ResolveEndpoint()
    {
        if (Endpoint is not null)
        {
            return Endpoint;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EndpointEnvironmentVariable);
        return Uri.TryCreate(fromEnvironment, UriKind.Absolute, out Uri? uri) ? uri : null;
    }
}
