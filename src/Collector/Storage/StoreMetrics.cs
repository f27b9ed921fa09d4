using System.Diagnostics.Metrics;

namespace Instrumentation.Collector.Storage;

/// <summary>
/// The store's instruments, on the meter <c>Instrumentation.Collector</c>: how many events and requests each group
/// commit carried and how long it took, tagged with <c>provider</c> (<c>Sqlite</c> or <c>PostgreSql</c>) and
/// <c>outcome</c> (<c>committed</c> or <c>failed</c>), and how many PostgreSQL commits met a duplicate id and were sent
/// again with the conflict clause; and the SQLite store's fold writer (its rollup file): how long
/// each fold took, tagged with <c>outcome</c> (<c>committed</c> or <c>failed</c>), how many events it read back from
/// the database file, and how many commits' sums it had no room for.
/// </summary>
public static class StoreMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Instrumentation.Collector";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Events per transaction (<c>instrumentation.collector.commit.events</c>).</summary>
    internal static readonly Histogram<int> CommitEvents = Meter.CreateHistogram<int>("instrumentation.collector.commit.events", "{event}", "Events written by one group commit.");

    /// <summary>Upload requests per transaction (<c>instrumentation.collector.commit.requests</c>).</summary>
    internal static readonly Histogram<int> CommitRequests = Meter.CreateHistogram<int>("instrumentation.collector.commit.requests", "{request}", "Upload requests whose events one group commit wrote.");

    /// <summary>Transaction time (<c>instrumentation.collector.commit.duration</c>).</summary>
    internal static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("instrumentation.collector.commit.duration", "s", "Time of one group commit, from its first statement to the end of its commit.");

    /// <summary>
    /// PostgreSQL commits sent again with the conflict clause (<c>instrumentation.collector.commit.duplicate_retries</c>).
    /// </summary>
    internal static readonly Counter<long> DuplicateRetries = Meter.CreateCounter<long>("instrumentation.collector.commit.duplicate_retries", "{commit}", "PostgreSQL group commits whose plain insert met an id already stored (or being stored by another transaction) and that were sent again with ON CONFLICT (id) DO NOTHING.");

    /// <summary>Fold time (<c>instrumentation.collector.rollup.fold.duration</c>), tagged <c>outcome</c>.</summary>
    internal static readonly Histogram<double> FoldDuration = Meter.CreateHistogram<double>("instrumentation.collector.rollup.fold.duration", "s", "Time of one fold of the SQLite store's dashboard rollups into their file, read-back included.");

    /// <summary>Events read back (<c>instrumentation.collector.rollup.read_back.events</c>).</summary>
    internal static readonly Counter<long> ReadBackEvents = Meter.CreateCounter<long>("instrumentation.collector.rollup.read_back.events", "{event}", "Stored events whose dashboard rollups were recomputed from the SQLite database file: after a restart, a failed fold or a full fold queue.");

    /// <summary>Commits whose sums found the fold queue full (<c>instrumentation.collector.rollup.overflows</c>).</summary>
    internal static readonly Counter<long> FoldOverflows = Meter.CreateCounter<long>("instrumentation.collector.rollup.overflows", "{commit}", "SQLite commits whose rollup sums found the fold writer's queue full and were left to be read back.");
}
