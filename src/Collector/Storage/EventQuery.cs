namespace Instrumentation.Collector.Storage;

/// <summary>Which events <see cref="IEventStore.ReadAsync"/> returns. Every filter that is set must match.</summary>
public sealed record EventQuery
{
    /// <summary>Only events of this type, when set.</summary>
    public string? Type { get; init; }

    /// <summary>Only events whose timestamp is at or after this, when set.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Only events whose timestamp is before this, when set.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>Continue after this row (the last row of the previous page), when set.</summary>
    public EventCursor? After { get; init; }

    /// <summary>Only events whose <c>context</c> holds every one of these fields with exactly this string value, when set.</summary>
    /// <remarks>Not indexed: the store scans the rows the other filters leave.</remarks>
    public IReadOnlyDictionary<string, string>? Context { get; init; }

    /// <summary>Only events whose <c>data</c> (its JSON text) contains this text, case-sensitively, when set.</summary>
    /// <remarks>Not indexed: the store scans the rows the other filters leave.</remarks>
    public string? DataContains { get; init; }

    /// <summary>The most rows to return. Must be positive.</summary>
    public int Limit { get; init; } = 100;
}

/// <summary>What <see cref="IEventStore.CountByTimeAsync"/> counts.</summary>
public sealed record EventCountQuery
{
    /// <summary>The bucket width (at least one second). Default one minute.</summary>
    public TimeSpan BucketWidth { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Only events of this type, when set.</summary>
    public string? Type { get; init; }

    /// <summary>Only events whose timestamp is at or after this, when set.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Only events whose timestamp is before this, when set.</summary>
    public DateTimeOffset? Until { get; init; }

    internal long BucketTicks
    {
        get
        {
            if (BucketWidth < TimeSpan.FromSeconds(1))
            {
                throw new ArgumentOutOfRangeException(nameof(BucketWidth), BucketWidth, "The bucket width must be at least one second.");
            }

            return BucketWidth.Ticks;
        }
    }
}
