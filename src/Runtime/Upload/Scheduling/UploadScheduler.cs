namespace Instrumentation.Upload;

/// <summary>
/// Which requests may start now: the concurrency limits, the circuit breaker, and the waits the server asked for.
/// </summary>
/// <remarks>
/// <para>A failure delays only the events of the failed request (exponential backoff with full jitter, from that
/// request's own attempts); other requests go on. The whole endpoint waits only when the server says so
/// (<c>Retry-After</c> on 429/503, clamped) or refuses the API key (<see cref="LogManagerOptions.RetryMaxDelay"/>).</para>
/// <para>After <see cref="LogManagerOptions.CircuitBreakerThreshold"/> failures in a row the circuit opens: immediate
/// events join the batch lane, and one request at a time (a probe) goes out, each after a backoff. The first success
/// closes it, and full concurrency returns at once. A 429/503 with <c>Retry-After</c> is not a failure for the circuit
/// (the server is up and said when to come back): it does not count toward opening it, and while it is open the next
/// probe goes when the server's wait ends. But when the wait ends only one request goes (immediate events join the batch
/// lane) until the server answers one without asking to wait again: a server that throttles every request sees one
/// request per wait it asks for, not every slot of every client at the same instant.</para>
/// Used only by the pipeline's loop, one thread at a time.
/// </remarks>
internal sealed class UploadScheduler(LogManagerOptions options, TimeProvider timeProvider, Random random)
{
    private int _consecutiveFailures;

    /// <summary>The server's last word was a <c>Retry-After</c> (429/503) and no request has succeeded since.</summary>
    private bool _throttled;

    /// <summary>No request may start before this time (the server asked us to wait, or refused the key).</summary>
    public DateTimeOffset EndpointNotBefore { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>While the circuit is open: the next probe may not start before this time.</summary>
    public DateTimeOffset ProbeNotBefore { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>Batch requests in flight.</summary>
    public int BatchesInFlight { get; private set; }

    /// <summary>Immediate requests in flight.</summary>
    public int ImmediatesInFlight { get; private set; }

    /// <summary>Whether the circuit is open: too many failures in a row, only probes go out.</summary>
    public bool IsOpen => _consecutiveFailures >= options.CircuitBreakerThreshold;

    /// <summary>The number of failures in a row (0 after a success).</summary>
    public int ConsecutiveFailures => _consecutiveFailures;

    /// <summary>When the endpoint takes requests again (the later of the server's wait and, while open, the next probe).</summary>
    public DateTimeOffset ReadyAt => IsOpen && ProbeNotBefore > EndpointNotBefore ? ProbeNotBefore : EndpointNotBefore;

    /// <summary>Whether an immediate event may go on its own now (else it joins the batch lane).</summary>
    public bool ImmediateMayTry => !OneAtATime && timeProvider.GetUtcNow() >= EndpointNotBefore;

    /// <summary>
    /// Whether only one request may be in flight: the circuit is open, or the server asked for a wait and has not
    /// taken a request since (the first request after its wait tries the water alone).
    /// </summary>
    public bool OneAtATime => IsOpen || _throttled;

    /// <summary>Whether another immediate request may start now.</summary>
    public bool CanStartImmediate => ImmediateMayTry && ImmediatesInFlight < options.MaxConcurrentImmediateUploads;

    /// <summary>Whether a batch slot is free (while open or throttled: only when nothing at all is in flight).</summary>
    public bool BatchSlotFree => OneAtATime
        ? BatchesInFlight + ImmediatesInFlight == 0
        : BatchesInFlight < options.MaxConcurrentBatchUploads;

    /// <summary>Whether a batch request may start now.</summary>
    public bool CanStartBatch => BatchSlotFree && timeProvider.GetUtcNow() >= ReadyAt;

    public void Started(UploadKind kind)
    {
        if (kind == UploadKind.Single)
        {
            ImmediatesInFlight++;
        }
        else
        {
            BatchesInFlight++;
        }
    }

    public void Finished(UploadKind kind)
    {
        if (kind == UploadKind.Single)
        {
            ImmediatesInFlight--;
        }
        else
        {
            BatchesInFlight--;
        }
    }

    /// <summary>A request was answered as it should: close the circuit.</summary>
    /// <returns>Whether the circuit was open (it has just closed).</returns>
    public bool OnSuccess()
    {
        bool wasOpen = IsOpen;
        _consecutiveFailures = 0;
        _throttled = false;
        ProbeNotBefore = DateTimeOffset.MinValue;
        return wasOpen;
    }

    /// <summary>A request failed: decides when its events may go again, and whether the endpoint waits.</summary>
    /// <param name="effect"><see cref="RequestEffect.RetryLater"/> or <see cref="RequestEffect.PauseEndpoint"/>.</param>
    /// <param name="response">The answer (its outcome and <c>Retry-After</c>).</param>
    /// <param name="attempts">How many failures now count for this request's backoff (1 for the first): its own, since the endpoint was last known up.</param>
    /// <returns>How long the request's events wait.</returns>
    public TimeSpan OnFailure(RequestEffect effect, UploadResponse response, int attempts)
    {
        // 429/503 with Retry-After: the server is up and said when to come back. It neither opens the circuit nor
        // keeps it open longer: the endpoint's pause already throttles every request (see below for the probe).
        bool serverAskedToWait = IsServerWait(effect, response);
        if (serverAskedToWait)
        {
            _throttled = true;
        }
        else
        {
            _consecutiveFailures++;
        }

        DateTimeOffset now = timeProvider.GetUtcNow();
        TimeSpan delay;
        if (effect == RequestEffect.PauseEndpoint)
        {
            delay = response.Outcome == UploadOutcome.Unauthorized
                ? options.RetryMaxDelay
                : Clamp(response.RetryAfter ?? TimeSpan.Zero, options.MinRetryAfter, options.MaxRetryAfter);
            if (now + delay > EndpointNotBefore)
            {
                EndpointNotBefore = now + delay;
            }
        }
        else
        {
            delay = Backoff(attempts);
        }

        if (IsOpen && serverAskedToWait)
        {
            // The probe reached the server, which asked for a wait: the next probe goes when that wait ends
            // (EndpointNotBefore), not after a probe backoff on top of it.
            ProbeNotBefore = DateTimeOffset.MinValue;
        }
        else if (IsOpen)
        {
            // One probe at a time, each after a wait that grows with the failures in a row, up to CircuitProbeMaxDelay.
            // The probe is the oldest held batch whatever its own backoff (the failures that opened the circuit were the
            // endpoint's, not that request's), so only the probe's wait and the server's Retry-After (EndpointNotBefore,
            // in ReadyAt) decide when it goes.
            ProbeNotBefore = now + ProbeWait(_consecutiveFailures - options.CircuitBreakerThreshold + 1);
        }

        return delay;
    }

    /// <summary>
    /// Whether the answer is the server asking for a wait (429/503 with <c>Retry-After</c>): not a failure for the circuit,
    /// nor for the request's own backoff. The one definition, for the scheduler and the answer applier alike.
    /// </summary>
    public static bool IsServerWait(RequestEffect effect, UploadResponse response) =>
        effect == RequestEffect.PauseEndpoint && response.Outcome == UploadOutcome.Throttled;

    /// <summary>
    /// The wait before the <paramref name="probe"/>-th probe of an open circuit: between half and all of
    /// <c>min(CircuitProbeMaxDelay, RetryMaxDelay, base × 2^(probe-1))</c>. Half at least, so that a long outage costs at most two probes
    /// per <c>CircuitProbeMaxDelay</c>; random within, so that clients cut off together (a campus network) do not probe,
    /// and come back, in step.
    /// </summary>
    public TimeSpan ProbeWait(int probe)
    {
        // RetryMaxDelay caps it too: the longest backoff of any kind.
        double ceiling = Ceiling(probe, Math.Min(options.CircuitProbeMaxDelay.Ticks, options.RetryMaxDelay.Ticks));
        return TimeSpan.FromTicks((long)(ceiling * (0.5 + 0.5 * random.NextDouble())));
    }

    /// <summary>Full jitter: a random wait between zero and <c>min(cap, base × 2^(attempt-1))</c>.</summary>
    public TimeSpan Backoff(int attempt)
    {
        double ceiling = Ceiling(attempt, options.RetryMaxDelay.Ticks);
        return TimeSpan.FromTicks((long)(random.NextDouble() * ceiling));
    }

    /// <summary>The exponential ceiling in ticks: <c>min(cap, RetryBaseDelay × 2^(n-1))</c>.</summary>
    private double Ceiling(int n, double capTicks) =>
        Math.Min(capTicks, options.RetryBaseDelay.Ticks * Math.Pow(2, Math.Clamp(n - 1, 0, 30)));

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) =>
        value < min ? min : value > max ? max : value;
}
