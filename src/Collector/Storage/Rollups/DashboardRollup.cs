using System.Text.Json;

namespace Instrumentation.Collector.Storage.Rollups;

/// <summary>
/// What one commit adds to the dashboard's tables, gathered from the events it stores: events per minute, type and
/// priority (<c>event_minutes</c>); one row per string field of each event's <c>context</c> (<c>event_context</c>, the
/// explorer's context index); and events per context field, value, minute and type (<c>context_minutes</c>, the activity
/// view), and per context field and value the all-time totals (<c>context_values</c>, <c>context_value_types</c>, and
/// <c>context_value_minutes</c> whose new rows count the value's active minutes). The writer adds every new event (or the
/// sums a request made for its batch, <see cref="Sqlite.PreparedBatch"/>) and writes the sums in the same transaction
/// (PostgreSQL) or keeps them for a later fold (SQLite, <see cref="Sqlite.SqliteRollupFolder"/>). Not thread-safe: each
/// instance is used by one thread at a time (a writer's, or the request's that prepares its batch).
/// </summary>
internal sealed class DashboardRollup
{
    private readonly Dictionary<(long Minute, string Type, string Priority), long> _minutes = [];
    private readonly Dictionary<(string Key, string Value, long Minute, string Type), long> _contextMinutes = [];
    private readonly List<(string Key, string Value, long Ticks, int Event)> _contextRows = [];
    private readonly Dictionary<(string Key, string Value), ValueTotals> _values = [];
    private readonly Dictionary<(string Key, string Value, string Type), long> _valueTypes = [];
    private int _events;

    /// <summary>One context value's events in this commit: how many, the earliest and latest timestamps.</summary>
    public sealed class ValueTotals
    {
        public long Events { get; set; }

        public long FirstTicks { get; set; } = long.MaxValue;

        public long LastTicks { get; set; } = long.MinValue;
    }

    public IReadOnlyDictionary<(long Minute, string Type, string Priority), long> Minutes => _minutes;

    public IReadOnlyDictionary<(string Key, string Value, long Minute, string Type), long> ContextMinutes => _contextMinutes;

    /// <summary>
    /// The context index rows of the events added, each with the event's position among them (0 for the first event
    /// added): the index is keyed by the event's <c>seq</c>, which only the insert gives, so the writer pairs each
    /// position with the seq of the event it added in that same order.
    /// </summary>
    public IReadOnlyList<(string Key, string Value, long Ticks, int Event)> ContextRows => _contextRows;

    /// <summary>How many events were added (the positions <see cref="ContextRows"/> refer to are below it).</summary>
    public int EventCount => _events;

    /// <summary>Per context field and value: the all-time totals this commit adds (<c>context_values</c>).</summary>
    public IReadOnlyDictionary<(string Key, string Value), ValueTotals> Values => _values;

    /// <summary>Per context field, value and type: events this commit adds (<c>context_value_types</c>).</summary>
    public IReadOnlyDictionary<(string Key, string Value, string Type), long> ValueTypes => _valueTypes;

    public void Clear()
    {
        _minutes.Clear();
        _contextMinutes.Clear();
        _contextRows.Clear();
        _values.Clear();
        _valueTypes.Clear();
        _events = 0;
    }

    public void Add(StoredEvent item)
    {
        long ticks = item.Timestamp.UtcTicks;
        long minute = ticks / TimeSpan.TicksPerMinute;
        var minuteKey = (minute, item.Type, item.Priority);
        _minutes[minuteKey] = _minutes.GetValueOrDefault(minuteKey) + 1;
        int firstRow = _contextRows.Count;
        foreach ((string key, string value) in item.Context ?? ContextOf(item.Utf8Json.Span))
        {
            if (IsGiven(key, firstRow))
            {
                // A key named twice (the collector's validator refuses such JSON, but a caller's list or JSON stored by
                // other means may have it): the first counts, so the event has one row per key in the context index, which
                // the PostgreSQL store inserts into without a conflict clause (a second row would fail the whole commit).
                continue;
            }

            _contextRows.Add((key, value, ticks, _events));
            var contextKey = (key, value, minute, item.Type);
            _contextMinutes[contextKey] = _contextMinutes.GetValueOrDefault(contextKey) + 1;
            if (!_values.TryGetValue((key, value), out ValueTotals? totals))
            {
                _values[(key, value)] = totals = new ValueTotals();
            }

            totals.Events++;
            totals.FirstTicks = Math.Min(totals.FirstTicks, ticks);
            totals.LastTicks = Math.Max(totals.LastTicks, ticks);
            var typeKey = (key, value, item.Type);
            _valueTypes[typeKey] = _valueTypes.GetValueOrDefault(typeKey) + 1;
        }

        _events++;
    }

    /// <summary>Whether the event whose context rows start at <paramref name="firstRow"/> has a row for <paramref name="key"/>.</summary>
    private bool IsGiven(string key, int firstRow)
    {
        for (int row = firstRow; row < _contextRows.Count; row++)
        {
            if (string.Equals(_contextRows[row].Key, key, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds the sums of another rollup (gathered from other events) to this one, key by key.</summary>
    public void Add(DashboardRollup other)
    {
        // The other rollup's events come after this one's: their positions move up by this one's count.
        foreach ((string key, string value, long ticks, int position) in other._contextRows)
        {
            _contextRows.Add((key, value, ticks, _events + position));
        }

        AddTotals(other);
    }

    /// <summary>
    /// Adds the totals of another rollup (every table but the context index) and its event count, leaving out its
    /// context rows: what the SQLite fold writer sums across commits until it folds them into the rollup file. The context rows
    /// refer to their commit's events by position, and only that commit knows the positions' seqs, so the fold writer keeps
    /// them apart, each with its seq (<see cref="Sqlite.SqliteRollupFolder"/>).
    /// </summary>
    public void AddTotals(DashboardRollup other)
    {
        _events += other._events;
        foreach ((var key, long count) in other._minutes)
        {
            _minutes[key] = _minutes.GetValueOrDefault(key) + count;
        }

        foreach ((var key, long count) in other._contextMinutes)
        {
            _contextMinutes[key] = _contextMinutes.GetValueOrDefault(key) + count;
        }

        foreach ((var key, ValueTotals theirs) in other._values)
        {
            if (!_values.TryGetValue(key, out ValueTotals? totals))
            {
                _values[key] = totals = new ValueTotals();
            }

            totals.Events += theirs.Events;
            totals.FirstTicks = Math.Min(totals.FirstTicks, theirs.FirstTicks);
            totals.LastTicks = Math.Max(totals.LastTicks, theirs.LastTicks);
        }

        foreach ((var key, long count) in other._valueTypes)
        {
            _valueTypes[key] = _valueTypes.GetValueOrDefault(key) + count;
        }
    }

    /// <summary>The string fields of the event's top-level <c>context</c> object (the validator allows strings and nulls), for events stored without <see cref="StoredEvent.Context"/>.</summary>
    private static List<KeyValuePair<string, string>> ContextOf(ReadOnlySpan<byte> json)
    {
        var fields = new List<KeyValuePair<string, string>>();
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return fields;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isContext = reader.ValueTextEquals("context"u8);
            reader.Read();
            if (!isContext || reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string key = reader.GetString()!;
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    fields.Add(new(key, reader.GetString()!));
                }
                else
                {
                    reader.Skip();
                }
            }

            break;
        }

        return fields;
    }
}
