using System.Diagnostics;
using System.Diagnostics.Metrics;
using Instrumentation.Upload;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Instrumentation;

/// <summary>
/// Uploads recorded events to the collector: immediate events at once (one request each), batch events in batches
/// (<see cref="LogManagerOptions.MaxBatchSize"/> events, <see cref="LogManagerOptions.MaxBatchBytes"/> bytes, or
/// <see cref="LogManagerOptions.MaxWaitTime"/> after the first, whichever comes first), with retries, backoff and
/// bounded memory. Recording never blocks and never throws into application code.
/// </summary>
/// <example>
/// Without dependency injection:
/// <code>
/// await using var logs = LogManager.Start(new LogManagerOptions { Endpoint = new Uri("http://127.0.0.1:5080") });
/// NotebookEvents.CellExecuted("nb-1", "c7", elapsed);   // generated hooks now upload through logs
/// </code>
/// With a host: <c>services.AddInstrumentation(configuration.GetSection("Instrumentation"))</c>.
/// </example>
public sealed class LogManager : ILogEventSink, IAsyncDisposable, IDisposable
{
    private readonly LogManagerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly UploadStatistics _statistics;
    private readonly UploadPipeline _pipeline;
    private readonly HttpClient? _ownedHttpClient;
    private readonly Uri _endpoint;
    private IDisposable? _hubAttachment;
    private EventHandler? _processExitHandler;
    private int _started;
    private Task? _stopping;

    internal LogManager(
        LogManagerOptions options,
        Func<HttpClient>? httpClient,
        ILoggerFactory? loggerFactory,
        TimeProvider? timeProvider,
        IMeterFactory? meterFactory,
        IUploadTransport? transport = null,
        Random? random = null,
        Spool.IDurableQueue? spool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ValidateOptionsResult validation = new LogManagerOptionsValidator().Validate(Options.DefaultName, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(LogManagerOptions), validation.Failures);
        }

        _options = options;
        _endpoint = options.ResolveEndpoint()!;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Instrumentation.LogManager");
        _statistics = new UploadStatistics(meterFactory, () => PendingCount, hasSpool: options.SpoolDirectory is not null);
        if (httpClient is null && transport is null)
        {
            // Without a factory, one long-lived client whose connections are recycled (DNS changes are picked up), and
            // which never follows redirects (a captive portal's 302 must not turn an upload into a GET of its login page).
            _ownedHttpClient = new HttpClient(HttpUploadTransport.CreateHandler());
            httpClient = () => _ownedHttpClient;
        }

        transport ??= new HttpUploadTransport(httpClient!, options, _endpoint, _timeProvider, _statistics);
        _pipeline = new UploadPipeline(options, transport, _timeProvider, _statistics, _logger, random, spool);
    }

    /// <summary>
    /// Starts a manager and adds it as a listener of generated hooks (<see cref="LogEventHub"/>). Events recorded
    /// before any listener attached are handed to it when it is the first. A console app needs nothing else: the manager flushes on process
    /// exit (<see cref="LogManagerOptions.FlushOnProcessExit"/>) and on disposal.
    /// </summary>
    /// <param name="options">The settings; validated here.</param>
    /// <param name="loggerFactory">Where the uploader's diagnostics go; none when null.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when null.</param>
    /// <returns>The started manager. Dispose it (<c>await using</c>) to flush and detach.</returns>
    /// <exception cref="OptionsValidationException">An option is invalid; the message says which and how to fix it.</exception>
    public static LogManager Start(LogManagerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        var manager = new LogManager(options, null, loggerFactory, timeProvider, null);
        manager.StartCore(attachToHub: true, registerProcessExit: options.FlushOnProcessExit);
        return manager;
    }

    /// <summary>Events accepted and not yet delivered, dead-lettered or dropped.</summary>
    public long PendingCount => _pipeline.PendingCount;

    /// <summary>
    /// The collector address this manager sends to: <see cref="LogManagerOptions.Endpoint"/>, or the one the
    /// <c>INSTRUMENTATION_ENDPOINT</c> environment variable named when the option was not set.
    /// </summary>
    public Uri Endpoint => _endpoint;

    /// <summary>The meter this manager's instruments live on (named <c>Instrumentation</c>).</summary>
    public Meter Meter => _statistics.Meter;

    /// <summary>
    /// Records an event built by hand (a generated payload, or a <see cref="CustomLogEvent"/>): stamps it, if it was
    /// not recorded yet, and queues it for upload. Never blocks, never throws for a full queue (the drop is counted).
    /// </summary>
    /// <param name="payload">The event.</param>
    public void AddLog(LogEventPayload payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        payload.TryStamp(_timeProvider.GetUtcNow(), Activity.Current);
        Write(payload);
    }

    /// <inheritdoc />
    void ILogEventSink.Write(LogEventPayload payload) => Write(payload);

    private void Write(LogEventPayload payload)
    {
        if (_pipeline.WaitsForDisk)
        {
            _pipeline.EnqueueAndWaitDurable(payload);
        }
        else
        {
            _pipeline.Enqueue(payload);
        }
    }

    /// <summary>
    /// Sends everything pending now, ignoring the batch size and wait time (but not a server's request to wait, nor the
    /// backoff of a request that failed), and completes when the collector has answered for each of those events.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the events stay queued).</param>
    /// <returns>A task that completes when every event pending at the call is delivered, dead-lettered or dropped.</returns>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        return _pipeline.FlushAsync(cancellationToken);
    }

    /// <summary>Totals since start: events recorded, uploaded, retried, dead-lettered, dropped; requests and bytes.</summary>
    /// <returns>A snapshot.</returns>
    public LogManagerStatistics GetStatistics() => _statistics.Snapshot(PendingCount) with { Endpoint = _endpoint };

    /// <summary>Detaches from <see cref="LogEventHub"/>, flushes within <see cref="LogManagerOptions.ShutdownTimeout"/>, and stops.</summary>
    /// <returns>A task that completes when the manager has stopped.</returns>
    public ValueTask DisposeAsync() => new(StopAsync());

    /// <summary>Like <see cref="DisposeAsync"/>, blocking until it completes (at most about <see cref="LogManagerOptions.ShutdownTimeout"/>).</summary>
    /// <remarks>
    /// Safe on a single-threaded <see cref="SynchronizationContext"/> (WPF, WinForms): the shutdown runs on the thread
    /// pool and never posts back to the thread that blocks here.
    /// </remarks>
    public void Dispose() => StopAsync().GetAwaiter().GetResult();

    /// <summary>Starts the upload loop and attaches to the hub (used by <see cref="Start"/> and the hosted service).</summary>
    internal void StartCore(bool attachToHub, bool registerProcessExit)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        _pipeline.Start();
        if (attachToHub)
        {
            _hubAttachment = LogEventHub.Attach(this, _timeProvider);
        }

        if (registerProcessExit)
        {
            _processExitHandler = (_, _) => Dispose();
            AppDomain.CurrentDomain.ProcessExit += _processExitHandler;
        }

        Log.Started(_logger, _endpoint, _options.MaxBatchSize, _options.MaxWaitTime);
    }

    internal Task StopAsync()
    {
        lock (_pipeline)
        {
            // On the thread pool, not the caller's context: Dispose blocks the caller's thread, so no part of the
            // shutdown may need that thread (a single-threaded SynchronizationContext would deadlock).
            return _stopping ??= Task.Run(StopCoreAsync);
        }
    }

    private async Task StopCoreAsync()
    {
        _hubAttachment?.Dispose();
        if (_processExitHandler is not null)
        {
            AppDomain.CurrentDomain.ProcessExit -= _processExitHandler;
        }

        // A manager that was never started still closes what its pipeline opened (the spool and its lock), and events
        // handed to it are spooled or counted as dropped, not lost silently.
        await _pipeline.StopAsync(_options.ShutdownTimeout, started: Volatile.Read(ref _started) != 0).ConfigureAwait(false);

        _ownedHttpClient?.Dispose();
        _statistics.Dispose();
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _started) == 0)
        {
            throw new InvalidOperationException("The LogManager has not been started: create it with LogManager.Start(options), or register it with services.AddInstrumentation(...) and run the host.");
        }

        ObjectDisposedException.ThrowIf(_stopping is not null, this);
    }
}
