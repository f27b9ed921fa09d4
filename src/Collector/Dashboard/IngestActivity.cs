using System.Collections.Concurrent;

namespace Instrumentation.Collector.Dashboard;

/// <summary>
/// What the ingest endpoints did since this process started: events accepted per second over the last ten minutes
/// (the overview's ingest rate) and events or requests refused, by reason. The ingest endpoints are its only writer.
/// </summary>
public sealed class IngestActivity
{
    private const int WindowSeconds = 600;
    private const int MaxReasons = 64;
    private readonly TimeProvider _time;
    private readonly long[] _acceptedPerSecond = new long[WindowSeconds];
    private readonly long[] _secondOfSlot = new long[WindowSeconds];
    private readonly ConcurrentDictionary<string, long> _rejected = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _acceptedTotal;

    /// <summary>Creates the counters.</summary>
    /// <param name="time">The clock.</param>
    public IngestActivity(TimeProvider time)
    {
        _time = time;
        StartedAt = time.GetUtcNow();
    }

    /// <summary>When counting started.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Events accepted since start.</summary>
    public long AcceptedTotal => Interlocked.Read(ref _acceptedTotal);

    /// <summary>Counts events a request delivered (stored now or already stored).</summary>
    /// <param name="count">How many.</param>
    public void Accepted(int count)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _acceptedTotal, count);
        long second = _time.GetUtcNow().ToUnixTimeSeconds();
        int slot = (int)(second % WindowSeconds);
        lock (_lock)
        {
            if (_secondOfSlot[slot] != second)
            {
                _secondOfSlot[slot] = second;
                _acceptedPerSecond[slot] = 0;
            }

            _acceptedPerSecond[slot] += count;
        }
    }

    /// <summary>Counts refused items (events of a request, or a whole request) under a reason.</summary>
    /// <param name="reason">Why they were refused.</param>
    /// <param name="count">How many.</param>
    public void Rejected(string reason, int count = 1)
    {
        // The ingest endpoints count fixed reasons (IngestEndpoints.CountedReason); the cap keeps a future free-text reason
        // from growing this without bound.
        string key = _rejected.Count >= MaxReasons && !_rejected.ContainsKey(reason) ? "other" : reason;
        _rejected.AddOrUpdate(key, count, (_, n) => n + count);
    }

    /// <summary>Events accepted per second, averaged over the last <paramref name="window"/> (at most ten minutes).</summary>
    /// <param name="window">The window.</param>
    /// <returns>The rate.</returns>
    public double AcceptedPerSecond(TimeSpan window)
    {
        int seconds = Math.Clamp((int)window.TotalSeconds, 1, WindowSeconds);
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        long sum = 0;
        lock (_lock)
        {
            for (long second = now - seconds + 1; second <= now; second++)
            {
                int slot = (int)(second % WindowSeconds);
                if (_secondOfSlot[slot] == second)
                {
                    sum += _acceptedPerSecond[slot];
                }
            }
        }

        return (double)sum / seconds;
    }

    /// <summary>Refused items by reason since start, most first.</summary>
    /// <returns>The counts.</returns>
    public IReadOnlyList<KeyValuePair<string, long>> RejectedByReason() =>
        [.. _rejected.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)];
}
