using Microsoft.Extensions.Options;

namespace Instrumentation;

/// <summary>Checks <see cref="LogManagerOptions"/> when the manager starts, with messages that say what to change.</summary>
public sealed class LogManagerOptionsValidator : IValidateOptions<LogManagerOptions>
{
    // The longest value each time option accepts (docs/configuration.md): generous for any real use, and short of
    // what a unit mistake gives (a bare "30" binds to 30 days).
    internal static readonly TimeSpan MaxWaitTimeLimit = TimeSpan.FromHours(1);
    internal static readonly TimeSpan ShutdownTimeoutLimit = TimeSpan.FromMinutes(10);
    internal static readonly TimeSpan RequestTimeoutLimit = TimeSpan.FromMinutes(10);
    internal static readonly TimeSpan RetryBaseDelayLimit = TimeSpan.FromMinutes(1);
    internal static readonly TimeSpan RetryMaxDelayLimit = TimeSpan.FromHours(1);
    internal static readonly TimeSpan MinRetryAfterLimit = TimeSpan.FromMinutes(1);
    internal static readonly TimeSpan MaxRetryAfterLimit = TimeSpan.FromHours(1);
    internal static readonly TimeSpan SpoolFlushIntervalLimit = TimeSpan.FromMinutes(1);
    internal static readonly TimeSpan MaxSpoolAgeLimit = TimeSpan.FromDays(365);
    internal static readonly TimeSpan CircuitProbeMaxDelayLimit = TimeSpan.FromHours(1);

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, LogManagerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        ValidateEndpoint(failures, options);

        Positive(failures, nameof(options.MaxBatchSize), options.MaxBatchSize);
        Positive(failures, nameof(options.MaxBatchBytes), options.MaxBatchBytes);
        Positive(failures, nameof(options.MaxQueuedEvents), options.MaxQueuedEvents);
        Positive(failures, nameof(options.MaxQueuedBytes), options.MaxQueuedBytes);
        Positive(failures, nameof(options.MaxConcurrentImmediateUploads), options.MaxConcurrentImmediateUploads);
        Positive(failures, nameof(options.CircuitBreakerThreshold), options.CircuitBreakerThreshold);
        Positive(failures, nameof(options.MaxConcurrentBatchUploads), options.MaxConcurrentBatchUploads);
        if (options.MaxBacklogBatchSize < 1 || options.MaxBacklogBatchSize > Upload.UploadPipeline.CollectorMaxEventsPerBatch)
        {
            failures.Add($"MaxBacklogBatchSize must be between 1 and {Upload.UploadPipeline.CollectorMaxEventsPerBatch} (the collector's limit of events per batch); it is {options.MaxBacklogBatchSize}.");
        }

        if (options.MaxBatchBytes > Upload.UploadPipeline.CollectorMaxRequestBytes)
        {
            failures.Add($"MaxBatchBytes must not exceed {Upload.UploadPipeline.CollectorMaxRequestBytes} (the collector's limit of 1 MiB per request body); it is {options.MaxBatchBytes}.");
        }

        InRange(failures, nameof(options.MaxWaitTime), options.MaxWaitTime, MaxWaitTimeLimit);
        InRange(failures, nameof(options.RequestTimeout), options.RequestTimeout, RequestTimeoutLimit);
        InRange(failures, nameof(options.RetryBaseDelay), options.RetryBaseDelay, RetryBaseDelayLimit);
        InRange(failures, nameof(options.RetryMaxDelay), options.RetryMaxDelay, RetryMaxDelayLimit);
        InRange(failures, nameof(options.MinRetryAfter), options.MinRetryAfter, MinRetryAfterLimit);
        InRange(failures, nameof(options.MaxRetryAfter), options.MaxRetryAfter, MaxRetryAfterLimit);
        InRange(failures, nameof(options.CircuitProbeMaxDelay), options.CircuitProbeMaxDelay, CircuitProbeMaxDelayLimit);
        if (options.ShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add($"ShutdownTimeout must not be negative (it is {options.ShutdownTimeout}).");
        }
        else if (options.ShutdownTimeout > ShutdownTimeoutLimit)
        {
            failures.Add(TooLong(nameof(options.ShutdownTimeout), options.ShutdownTimeout, ShutdownTimeoutLimit));
        }

        if (options.MaxRetryAttempts < 0)
        {
            failures.Add($"MaxRetryAttempts must be 0 or more (it is {options.MaxRetryAttempts}).");
        }

        if (options.CompressionThreshold < 0)
        {
            failures.Add($"CompressionThreshold must be 0 or more bytes (it is {options.CompressionThreshold}).");
        }

        if (options.MaxBatchSize > options.MaxQueuedEvents)
        {
            failures.Add($"MaxBatchSize ({options.MaxBatchSize}) must not exceed MaxQueuedEvents ({options.MaxQueuedEvents}).");
        }

        if (options.MaxBatchBytes > options.MaxQueuedBytes)
        {
            failures.Add($"MaxBatchBytes ({options.MaxBatchBytes}) must not exceed MaxQueuedBytes ({options.MaxQueuedBytes}).");
        }

        if (options.RetryMaxDelay < options.RetryBaseDelay)
        {
            failures.Add($"RetryMaxDelay ({options.RetryMaxDelay}) must not be shorter than RetryBaseDelay ({options.RetryBaseDelay}).");
        }

        if (options.MaxRetryAfter < options.MinRetryAfter)
        {
            failures.Add($"MaxRetryAfter ({options.MaxRetryAfter}) must not be shorter than MinRetryAfter ({options.MinRetryAfter}).");
        }

        if (options.SpoolDirectory is not null)
        {
            if (string.IsNullOrWhiteSpace(options.SpoolDirectory))
            {
                failures.Add("SpoolDirectory must be a folder path (or null for in-memory mode).");
            }

            Positive(failures, nameof(options.SpoolSegmentBytes), options.SpoolSegmentBytes);
            InRange(failures, nameof(options.SpoolFlushInterval), options.SpoolFlushInterval, SpoolFlushIntervalLimit);
            InRange(failures, nameof(options.MaxSpoolAge), options.MaxSpoolAge, MaxSpoolAgeLimit);
            if (options.MaxSpoolBytes < 2 * options.SpoolSegmentBytes)
            {
                failures.Add($"MaxSpoolBytes ({options.MaxSpoolBytes}) must be at least twice SpoolSegmentBytes ({options.SpoolSegmentBytes}), so that old segments can go while a new one fills.");
            }
        }

        foreach (string key in options.Context.Keys)
        {
            if (string.IsNullOrEmpty(key))
            {
                failures.Add("Context field names must not be empty.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(List<string> failures, string name, long value)
    {
        if (value <= 0)
        {
            failures.Add($"{name} must be greater than 0 (it is {value}).");
        }
    }

    private static void ValidateEndpoint(List<string> failures, LogManagerOptions options)
    {
        const string Example = "http://127.0.0.1:5080";
        if (options.Endpoint is { } endpoint)
        {
            if (!IsHttp(endpoint))
            {
                failures.Add($"Endpoint '{endpoint}' must be an absolute http or https address with its scheme, e.g. {Example}.");
            }

            return;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(LogManagerOptions.EndpointEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(fromEnvironment))
        {
            failures.Add($"Endpoint is required: set {LogManagerOptions.SectionName}:Endpoint (or LogManagerOptions.Endpoint), or the {LogManagerOptions.EndpointEnvironmentVariable} environment variable, to the collector's address, e.g. {Example}.");
        }
        else if (options.ResolveEndpoint() is not { } resolved || !IsHttp(resolved))
        {
            failures.Add($"The {LogManagerOptions.EndpointEnvironmentVariable} environment variable is '{fromEnvironment}', which is not an absolute http or https address: write it with its scheme, e.g. http://{fromEnvironment.Trim()} (or {Example}).");
        }
    }

    private static bool IsHttp(Uri endpoint) =>
        endpoint.IsAbsoluteUri && (endpoint.Scheme == Uri.UriSchemeHttp || endpoint.Scheme == Uri.UriSchemeHttps);

    private static void InRange(List<string> failures, string name, TimeSpan value, TimeSpan limit)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{name} must be longer than zero (it is {value}).");
        }
        else if (value > limit)
        {
            failures.Add(TooLong(name, value, limit));
        }
    }

    // A bare number in configuration ("30") binds to that many days: say so, since that is the usual way to get here.
    private static string TooLong(string name, TimeSpan value, TimeSpan limit) =>
        $"{name} must be at most {limit} (it is {value}). Write times as hh:mm:ss (00:00:30 for 30 seconds): a bare number in configuration is read as days.";
}
