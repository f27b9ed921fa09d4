namespace Instrumentation;

/// <summary>
/// The fixed set of reasons an event is dropped (not delivered, and not a dead letter): the <c>reason</c> tag of
/// <c>instrumentation.events.dropped</c> (docs/configuration.md, "Metrics").
/// </summary>
internal static class DropReasons
{
    /// <summary>More than <see cref="LogManagerOptions.MaxQueuedEvents"/> were held in memory.</summary>
    public const string QueueFull = "queue_full";

    /// <summary>More than <see cref="LogManagerOptions.MaxQueuedBytes"/> were held in memory.</summary>
    public const string QueueBytes = "queue_bytes";

    /// <summary>The hand-off from recording threads to the upload loop was full.</summary>
    public const string InboxFull = "inbox_full";

    /// <summary>Still pending when the manager stopped (and not in the spool for the next start).</summary>
    public const string Shutdown = "shutdown";

    /// <summary>The event could not be serialized.</summary>
    public const string SerializationFailed = "serialization_failed";

    /// <summary>The spool reached <see cref="LogManagerOptions.MaxSpoolBytes"/>: its oldest segment went.</summary>
    public const string SpoolFull = "spool_full";

    /// <summary>The spool's oldest segment was older than <see cref="LogManagerOptions.MaxSpoolAge"/>.</summary>
    public const string SpoolAge = "spool_age";
}
