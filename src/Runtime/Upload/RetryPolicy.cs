namespace Instrumentation.Upload;

/// <summary>
/// When to try again: exponential backoff with full jitter, <c>Retry-After</c> clamped to the configured range, and a
/// circuit breaker that, after <see cref="LogManagerOptions.CircuitBreakerThreshold"/> failures in a row, stops
/// immediate events from trying on their own until a probe (the next batch request) succeeds.
/// </summary>
/// <remarks>Used only by the pipeline's loop, one thread at a time.</remarks>
internal sealed class RetryPolicy(LogManagerOptions options, TimeProvider timeProvider, Random random)
{
    private int _consecutiveFailures;

    /// <summary>No request may start before this time.</summary>
    public DateTimeOffset NotBefore { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>Whether the circuit is open: too many failures in a row, only probes go out.</summary>
    public bool IsOpen => _consecutiveFailures >= options.CircuitBreakerThreshold;

    /// <summary>Whether a request may start now.</summary>
    public bool CanSend => timeProvider.GetUtcNow() >= NotBefore;

    /// <summary>Whether an immediate event may try on its own now (else it joins the batch).</summary>
    public bool ImmediateMayTry => !IsOpen && CanSend;

    /// <summary>The number of failures in a row (0 after a success).</summary>
    public int ConsecutiveFailures => _consecutiveFailures;

    /// <summary>A request succeeded: close the circuit and forget the backoff.</summary>
    /// <returns>Whether the circuit was open (it has just closed).</returns>
    public bool OnSuccess()
    {
        bool wasOpen = IsOpen;
        _consecutiveFailures = 0;
        NotBefore = DateTimeOffset.MinValue;
        return wasOpen;
    }

    /// <summary>A request failed: wait before the next one.</summary>
    /// <param name="outcome">How it failed.</param>
    /// <param name="retryAfter">The server's <c>Retry-After</c>, when it sent one.</param>
    /// <returns>How long the pipeline now waits.</returns>
    public TimeSpan OnFailure(UploadOutcome outcome, TimeSpan? retryAfter)
    {
        _consecutiveFailures++;
        TimeSpan delay = outcome switch
        {
            UploadOutcome.Unauthorized => options.RetryMaxDelay,
            UploadOutcome.Throttled when retryAfter is { } after => Clamp(after, options.MinRetryAfter, options.MaxRetryAfter),
            _ => Backoff(_consecutiveFailures),
        };
        DateTimeOffset until = timeProvider.GetUtcNow() + delay;
        if (until > NotBefore)
        {
            NotBefore = until;
        }

        return delay;
    }

    /// <summary>Full jitter: a random wait between zero and <c>min(cap, base × 2^(attempt-1))</c>.</summary>
    public TimeSpan Backoff(int attempt)
    {
        double exponent = Math.Min(attempt - 1, 30);
        double ceiling = Math.Min(options.RetryMaxDelay.Ticks, options.RetryBaseDelay.Ticks * Math.Pow(2, exponent));
        return TimeSpan.FromTicks((long)(random.NextDouble() * ceiling));
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) =>
        value < min ? min : value > max ? max : value;
}
