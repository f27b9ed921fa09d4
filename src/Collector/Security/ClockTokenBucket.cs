using System.Threading.RateLimiting;

namespace Instrumentation.Collector.Security;

/// <summary>
/// A token bucket that reads the DI <see cref="TimeProvider"/>: <see cref="TokenBucketRateLimiter"/> reads the system clock,
/// so neither a test nor anything else could run its time. Same rules as that limiter with <c>QueueLimit = 0</c>: it starts
/// full, holds at most <c>tokenLimit</c> tokens, and gains <c>tokensPerPeriod</c> at the end of each whole period; a
/// refused lease carries <see cref="MetadataName.RetryAfter"/>.
/// </summary>
internal sealed class ClockTokenBucket : RateLimiter
{
    private static readonly RateLimitLease Granted = new Lease(null);
    private readonly object _lock = new();
    private readonly TimeProvider _time;
    private readonly int _tokenLimit;
    private readonly int _tokensPerPeriod;
    private readonly TimeSpan _period;
    private long _tokens;
    private long _periodStarted; // TimeProvider timestamp of the start of the current period
    private long _lastUsed;
    private long _successful;
    private long _failed;

    public ClockTokenBucket(TimeProvider time, int tokenLimit, int tokensPerPeriod, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokenLimit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokensPerPeriod, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        _time = time;
        _tokenLimit = tokenLimit;
        _tokensPerPeriod = tokensPerPeriod;
        _period = period;
        _tokens = tokenLimit;
        _periodStarted = _lastUsed = time.GetTimestamp();
    }

    /// <summary>How long the bucket has been full and unused (the partitioned limiter drops such buckets).</summary>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                Replenish();
                return _tokens == _tokenLimit ? _time.GetElapsedTime(_lastUsed) : null;
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            Replenish();
            return new RateLimiterStatistics { CurrentAvailablePermits = _tokens, TotalSuccessfulLeases = _successful, TotalFailedLeases = _failed };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        lock (_lock)
        {
            Replenish();
            _lastUsed = _time.GetTimestamp();
            if (permitCount == 0 ? _tokens > 0 : _tokens >= permitCount)
            {
                _tokens -= permitCount;
                _successful++;
                return Granted;
            }

            _failed++;
            long periodsNeeded = (permitCount - _tokens + _tokensPerPeriod - 1) / _tokensPerPeriod;
            TimeSpan retryAfter = (_period * periodsNeeded) - _time.GetElapsedTime(_periodStarted);
            return new Lease(retryAfter > TimeSpan.Zero ? retryAfter : TimeSpan.Zero);
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount)); // no queue: a request over the limit is refused at once

    private void Replenish()
    {
        long periods = _time.GetElapsedTime(_periodStarted).Ticks / _period.Ticks;
        if (periods > 0)
        {
            _tokens = Math.Min(_tokenLimit, _tokens + (periods * _tokensPerPeriod));
            _periodStarted += (long)(periods * _period.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));
        }
    }

    /// <summary>Granted (no metadata), or refused with the time until enough tokens are back.</summary>
    private sealed class Lease(TimeSpan? retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => retryAfter is null;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } wait && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = wait;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
