using System.Diagnostics.Metrics;

namespace Instrumentation.Collector.Storage;

/// <summary>
/// The store's instruments, on the meter <c>Instrumentation.Collector</c>: how many events and requests each group
/// commit carried and how long it took, tagged with <c>provider</c> (<c>Sqlite</c> or <c>PostgreSql</c>) and
/// <c>outcome</c> (<c>committed</c> or <c>failed</c>).
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
}
