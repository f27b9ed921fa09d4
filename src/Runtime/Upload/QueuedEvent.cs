namespace Instrumentation.Upload;

/// <summary>An event on its way to the collector: serialized once, then carried until it is resolved.</summary>
internal sealed class QueuedEvent(long ordinal, Guid id, string type, Priority priority, byte[] json, DateTimeOffset enqueuedAt)
{
    /// <summary>Position in the order events entered the pipeline (flushes wait for ordinals up to a mark).</summary>
    public long Ordinal { get; } = ordinal;

    public Guid Id { get; } = id;

    public string Type { get; } = type;

    public Priority Priority { get; } = priority;

    public byte[] Json { get; } = json;

    /// <summary>When it entered the pipeline: a batch is due <c>MaxWaitTime</c> after its oldest event's.</summary>
    public DateTimeOffset EnqueuedAt { get; } = enqueuedAt;

    /// <summary>The spool segment holding it (durable mode), or null.</summary>
    public Spool.SpoolSegment? Segment { get; set; }

    /// <summary>Where its record starts in <see cref="Segment"/>.</summary>
    public long SpoolOffset { get; set; }

    /// <summary>How many times it was sent and answered with a server error (the retry budget).</summary>
    public int ServerErrorAttempts { get; set; }
}
