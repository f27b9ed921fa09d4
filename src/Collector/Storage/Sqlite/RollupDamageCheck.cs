namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The dashboard reads' requests that the fold writer check its rollup file for damage (<c>PRAGMA quick_check</c>),
/// coalesced and bounded: a read that meets SQLITE_CORRUPT or SQLITE_NOTADB asks (from any thread, never waiting), and
/// the fold writer's loop takes the request at its next item and checks at most once per <see cref="MinimumInterval"/>.
/// </summary>
/// <remarks>
/// The bound is what keeps a check from costing more than the damage: a read cannot tell whose pages were damaged, and a
/// damaged events file fails every read of those pages however often the rollup file is checked or rebuilt. Unbounded,
/// each such read (a page polling, a client retrying its 503) would have the loop read the whole rollup file again,
/// holding up the folds and the uploads' sums behind them. A request within the interval is dropped: the next read that
/// meets the damage after it asks again.
/// </remarks>
internal sealed class RollupDamageCheck(TimeProvider timeProvider)
{
    /// <summary>The least time between two checks.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMinutes(1);

    private int _requested; // any thread sets it (Interlocked), the loop clears it
    private long _lastCheck; // the loop's: when the last check ran (a TimeProvider timestamp)
    private bool _checkedOnce; // the loop's

    /// <summary>Asks for a check (any thread).</summary>
    /// <returns>True when no request was pending: the caller wakes the loop; otherwise a wake is already on its way.</returns>
    public bool Request() => Interlocked.Exchange(ref _requested, 1) == 0;

    /// <summary>Takes the pending request, if any (the loop's).</summary>
    /// <returns>Whether a check is to run now: requested, and the last one at least <see cref="MinimumInterval"/> ago.</returns>
    public bool TakeDue()
    {
        if (Interlocked.Exchange(ref _requested, 0) == 0)
        {
            return false;
        }

        if (_checkedOnce && timeProvider.GetElapsedTime(_lastCheck) < MinimumInterval)
        {
            return false;
        }

        _checkedOnce = true;
        _lastCheck = timeProvider.GetTimestamp();
        return true;
    }
}
