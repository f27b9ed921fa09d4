using Microsoft.Extensions.Options;

namespace Instrumentation;

/// <summary>Checks <see cref="LogManagerOptions"/> when the manager starts, with messages that say what to change.</summary>
public sealed class LogManagerOptionsValidator : IValidateOptions<LogManagerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, LogManagerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Uri? endpoint = options.ResolveEndpoint();
        if (endpoint is null)
        {
            failures.Add($"Endpoint is required: set {LogManagerOptions.SectionName}:Endpoint (or LogManagerOptions.Endpoint), or the {LogManagerOptions.EndpointEnvironmentVariable} environment variable, to the collector's address, e.g. http://127.0.0.1:5080.");
        }
        else if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"Endpoint '{endpoint}' must be an absolute http or https address.");
        }

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

        Positive(failures, nameof(options.MaxWaitTime), options.MaxWaitTime);
        Positive(failures, nameof(options.RequestTimeout), options.RequestTimeout);
        Positive(failures, nameof(options.RetryBaseDelay), options.RetryBaseDelay);
        Positive(failures, nameof(options.MinRetryAfter), options.MinRetryAfter);
        if (options.ShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add($"ShutdownTimeout must not be negative (it is {options.ShutdownTimeout}).");
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
            Positive(failures, nameof(options.SpoolFlushInterval), options.SpoolFlushInterval);
            Positive(failures, nameof(options.MaxSpoolAge), options.MaxSpoolAge);
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

    private static void Positive(List<string> failures, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{name} must be longer than zero (it is {value}).");
        }
    }
}
