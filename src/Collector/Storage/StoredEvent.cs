namespace Instrumentation.Collector.Storage;

/// <summary>One valid event, ready to store: the fields the store indexes, and the event's JSON as received.</summary>
public sealed record StoredEvent
{
    private string? _json;
    private ReadOnlyMemory<byte> _utf8Json;

    // The UTF-8 of a string-made event, encoded on first use. A reference, not a ReadOnlyMemory<byte>: two writers may read
    // Utf8Json of the same event at once (the same list inserted twice), and a 16-byte struct written by one can be read
    // torn by the other (an array's length with no array: an empty JSON stored); a reference is written whole.
    private byte[]? _encoded;

    /// <summary>An event whose JSON is a string.</summary>
    /// <param name="Id">The event id (the key: a repeated id is accepted and not stored again).</param>
    /// <param name="Type">The event type.</param>
    /// <param name="Priority"><c>immediate</c> or <c>batch</c>.</param>
    /// <param name="Timestamp">When the event was recorded.</param>
    /// <param name="Json">The event's JSON.</param>
    public StoredEvent(Guid Id, string Type, string Priority, DateTimeOffset Timestamp, string Json)
    {
        ArgumentNullException.ThrowIfNull(Json);
        this.Id = Id;
        this.Type = Type;
        this.Priority = Priority;
        this.Timestamp = Timestamp;
        _json = Json;
    }

    /// <summary>
    /// An event whose JSON is UTF-8 bytes, as the request body holds it: the collector's ingest hands the store slices
    /// of the body, so the single writer binds the bytes as they came (no string, no UTF-16 → UTF-8 conversion). The
    /// bytes must stay unchanged until <see cref="IEventStore.InsertAsync"/> has completed (the collector returns the
    /// body's pooled buffer only then, also when the request is aborted). After that the event must not be read: its
    /// <see cref="Json"/> (and <c>ToString</c>), if not read before, would decode whatever the buffer then holds.
    /// </summary>
    /// <param name="id">The event id.</param>
    /// <param name="type">The event type.</param>
    /// <param name="priority"><c>immediate</c> or <c>batch</c>.</param>
    /// <param name="timestamp">When the event was recorded.</param>
    /// <param name="utf8Json">The event's JSON, UTF-8 encoded (not empty).</param>
    public StoredEvent(Guid id, string type, string priority, DateTimeOffset timestamp, ReadOnlyMemory<byte> utf8Json)
    {
        if (utf8Json.IsEmpty)
        {
            throw new ArgumentException("An event's JSON cannot be empty.", nameof(utf8Json));
        }

        Id = id;
        Type = type;
        Priority = priority;
        Timestamp = timestamp;
        _utf8Json = utf8Json;
    }

    /// <summary>The event id (the key: a repeated id is accepted and not stored again).</summary>
    public Guid Id { get; init; }

    /// <summary>The event type.</summary>
    public string Type { get; init; }

    /// <summary><c>immediate</c> or <c>batch</c>.</summary>
    public string Priority { get; init; }

    /// <summary>When the event was recorded.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>The event's JSON (decoded from <see cref="Utf8Json"/> on first use when the event was made from bytes).</summary>
    public string Json
    {
        get => _json ??= System.Text.Encoding.UTF8.GetString(_utf8Json.Span);
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            _json = value;
            _utf8Json = default;
            _encoded = null;
        }
    }

    /// <summary>The event's JSON as UTF-8 (encoded from <see cref="Json"/> on first use when the event was made from a string).</summary>
    public ReadOnlyMemory<byte> Utf8Json =>
        _utf8Json.IsEmpty && _json is not null ? _encoded ??= System.Text.Encoding.UTF8.GetBytes(_json) : _utf8Json;

    /// <summary>
    /// The string fields of the event's top-level <c>context</c>, in order, when the caller has them already (the
    /// collector's validator does, having parsed the event); they must be what <see cref="Json"/> holds. Null: the store's
    /// writer reads them from <see cref="Json"/> itself, which costs its single thread a scan of the JSON per event.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Context { get; init; }

    /// <summary>
    /// Equal when the fields and the JSON text are equal, whether each event holds its JSON as a string or as UTF-8, and
    /// they share the same <see cref="Context"/> list (compared by reference, as a record compares a list).
    /// </summary>
    /// <param name="other">The other event.</param>
    /// <returns>True when they are the same event.</returns>
    public bool Equals(StoredEvent? other) =>
        other is not null
        && Id == other.Id && Type == other.Type && Priority == other.Priority && Timestamp == other.Timestamp
        && Utf8Json.Span.SequenceEqual(other.Utf8Json.Span)
        && ReferenceEquals(Context, other.Context);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, Type, Priority, Timestamp);
}

/// <summary>What <see cref="IEventStore.InsertAsync"/> did with each event of a batch.</summary>
public sealed class InsertResult
{
    private readonly bool[] _isNew;

    /// <summary>Wraps the per-event outcome.</summary>
    /// <param name="isNew">For each event in the order given: true when it was added, false when its id was already stored.</param>
    public InsertResult(bool[] isNew)
    {
        ArgumentNullException.ThrowIfNull(isNew);
        _isNew = isNew;
        foreach (bool added in isNew)
        {
            NewCount += added ? 1 : 0;
        }
    }

    /// <summary>An empty batch's result.</summary>
    public static InsertResult Empty { get; } = new([]);

    /// <summary>Events in the batch.</summary>
    public int Count => _isNew.Length;

    /// <summary>Events added now.</summary>
    public int NewCount { get; }

    /// <summary>Events whose id was already stored (or repeated within the batch).</summary>
    public int DuplicateCount => _isNew.Length - NewCount;

    /// <summary>Whether the event at <paramref name="index"/> was added now (false: a duplicate).</summary>
    /// <param name="index">The event's position in the batch.</param>
    /// <returns>True when it was new.</returns>
    public bool IsNew(int index) => _isNew[index];
}

/// <summary>One stored event, as <see cref="IEventStore.ReadAsync"/> returns it.</summary>
/// <param name="Json">The event's JSON, exactly as stored.</param>
/// <param name="Cursor">Where this row sits in the newest-first order (pass it as <see cref="EventQuery.After"/> to continue after it).</param>
public readonly record struct EventRow(string Json, EventCursor Cursor);

/// <summary>Counts by type and priority, and the first and last timestamps.</summary>
/// <param name="Total">Events stored.</param>
/// <param name="ByType">Events per type.</param>
/// <param name="ByPriority">Events per priority.</param>
/// <param name="FirstTimestamp">The earliest event timestamp, or null when empty.</param>
/// <param name="LastTimestamp">The latest event timestamp, or null when empty.</param>
public sealed record StoreStatistics(
    long Total,
    IReadOnlyDictionary<string, long> ByType,
    IReadOnlyDictionary<string, long> ByPriority,
    DateTimeOffset? FirstTimestamp,
    DateTimeOffset? LastTimestamp);

/// <summary>Events of one type within one time bucket.</summary>
/// <param name="BucketStart">The bucket's start (UTC), a multiple of the bucket width since 0001-01-01.</param>
/// <param name="Type">The event type.</param>
/// <param name="Count">Events of that type in the bucket.</param>
public readonly record struct EventCountBucket(DateTimeOffset BucketStart, string Type, long Count);
