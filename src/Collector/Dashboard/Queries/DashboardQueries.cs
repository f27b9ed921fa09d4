using System.Data.Common;
using System.Text;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Dashboard.Queries;

/// <summary>
/// The dashboard's reads, in SQL that SQLite and PostgreSQL share (a <see cref="DashboardSqlDialect"/> covers the
/// rest). They read the rollups the stores keep of the events (<c>event_minutes</c>, <c>event_context</c>,
/// <c>context_minutes</c>, see Storage/Rollups: PostgreSQL writes them with the events, SQLite in deferred folds that a
/// read of them asks for first, <c>rollupsCurrent</c>) and the events table's indexes, never a full scan
/// of the events: the overview reads one row per minute and type, the explorer walks an index newest first and stops
/// after a page, the activity view reads the per-minute rollup of one context field.
/// </summary>
/// <param name="open">Opens a reader connection.</param>
/// <param name="dialect">Where the store's SQL differs.</param>
/// <param name="rollupsCurrent">
/// Completes when the rollup tables cover every event stored so far; the reads of those tables wait for it first. The
/// SQLite store writes its totals in deferred folds and folds here; a store that writes them with the events passes none.
/// </param>
internal sealed class DashboardQueries(Func<CancellationToken, ValueTask<DbConnection>> open, DashboardSqlDialect dialect, Func<CancellationToken, Task>? rollupsCurrent = null) : IDashboardQueries
{
    private const long TicksPerMinute = TimeSpan.TicksPerMinute;

    /// <inheritdoc />
    public async Task<TimeSeries> CountByTypeOverTimeAsync(DateTimeOffset from, DateTimeOffset until, TimeSpan bucketSize, CancellationToken cancellationToken)
    {
        long bucketMinutes = Math.Max(1, (long)bucketSize.TotalMinutes);
        long firstMinute = from.UtcTicks / TicksPerMinute / bucketMinutes * bucketMinutes;
        long endMinute = (until.UtcTicks + TicksPerMinute - 1) / TicksPerMinute;
        int buckets = (int)Math.Max(1, (endMinute - firstMinute + bucketMinutes - 1) / bucketMinutes);
        var counts = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        var byPriority = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await RollupsCurrentAsync(cancellationToken).ConfigureAwait(false);
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = connection.CreateCommand();
        // Summed into buckets by the database: a week is 10,080 minutes times the types, a few hundred rows come back.
        command.CommandText = """
            SELECT (minute - @from) / @bucket AS bucket, type, priority, CAST(SUM(count) AS BIGINT)
            FROM event_minutes WHERE minute >= @from AND minute < @end
            GROUP BY 1, 2, 3;
            """;
        Add(command, "@from", firstMinute);
        Add(command, "@end", endMinute);
        Add(command, "@bucket", bucketMinutes);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            int bucket = (int)reader.GetInt64(0);
            string type = reader.GetString(1);
            if (!counts.TryGetValue(type, out long[]? series))
            {
                counts[type] = series = new long[buckets];
            }

            long count = reader.GetInt64(3);
            series[bucket] += count;
            byPriority[reader.GetString(2)] = byPriority.GetValueOrDefault(reader.GetString(2)) + count;
        }

        return new TimeSeries(new DateTimeOffset(firstMinute * TicksPerMinute, TimeSpan.Zero), TimeSpan.FromMinutes(bucketMinutes), buckets, counts, byPriority);
    }

    /// <inheritdoc />
    public async Task<DashboardEventPage> FindEventsAsync(EventFilter filter, int limit, EventCursor? after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (filter.ContextKey is not null && filter.ContextValue is not null)
        {
            await RollupsCurrentAsync(cancellationToken).ConfigureAwait(false); // the context index is a rollup too
        }

        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = connection.CreateCommand();
        var where = new List<string>();
        var sql = new StringBuilder();
        string ticks;
        string seq;
        if (filter.ContextKey is not null && filter.ContextValue is not null)
        {
            // Walk the context index (key, value, ticks, seq) newest first, ordered and paged by its own columns so the walk
            // stops after a page, and fetch each event by its seq (the events' primary key).
            sql.Append("SELECT e.id, e.type, e.priority, e.timestamp_ticks, e.seq, e.json FROM event_context c JOIN events e ON e.seq = c.seq");
            where.Add("c.key = @key AND c.value = @value");
            Add(command, "@key", filter.ContextKey);
            Add(command, "@value", filter.ContextValue);
            ticks = "c.ticks";
            seq = "c.seq";
        }
        else
        {
            sql.Append("SELECT e.id, e.type, e.priority, e.timestamp_ticks, e.seq, e.json FROM events e");
            ticks = "e.timestamp_ticks";
            seq = "e.seq";
        }

        if (filter.Type is not null)
        {
            where.Add("e.type = @type");
            Add(command, "@type", filter.Type);
        }

        if (filter.From is { } from)
        {
            where.Add($"{ticks} >= @since");
            Add(command, "@since", from.UtcTicks);
        }

        if (filter.Until is { } until)
        {
            where.Add($"{ticks} < @until");
            Add(command, "@until", until.UtcTicks);
        }

        if (after is { } position)
        {
            // The first condition alone bounds the index scan (neither database makes the OR a range start): without it a
            // later page walked the index from the newest row down to the cursor (measured on PostgreSQL at 1.7 M rows:
            // 140-265 ms a page, 0.1-0.3 ms with it).
            where.Add($"{ticks} <= @afterTicks AND ({ticks} < @afterTicks OR {seq} < @afterSeq)");
            Add(command, "@afterTicks", position.Ticks);
            Add(command, "@afterSeq", position.Sequence);
        }

        if (!string.IsNullOrEmpty(filter.Text))
        {
            where.Add(dialect.DataContainsIgnoringCase("e", "@text"));
            Add(command, "@text", filter.Text);
        }

        if (where.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", where);
        }

        sql.Append(System.Globalization.CultureInfo.InvariantCulture, $" ORDER BY {ticks} DESC, {seq} DESC LIMIT @limit;");
        Add(command, "@limit", limit + 1);
        command.CommandText = sql.ToString();
        List<DashboardEvent> rows = await ReadEventsAsync(command, limit + 1, cancellationToken).ConfigureAwait(false);
        EventCursor? next = null;
        if (rows.Count > limit)
        {
            rows.RemoveAt(limit);
            next = rows[^1].Position;
        }

        return new DashboardEventPage(rows, next);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DashboardEvent>> NewestAsync(long? afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, priority, timestamp_ticks, seq, json FROM events WHERE seq > @after ORDER BY seq DESC LIMIT @limit;";
        Add(command, "@after", afterSequence ?? 0L);
        Add(command, "@limit", limit);
        return await ReadEventsAsync(command, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<DashboardEvent?> FindEventAsync(Guid id, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, priority, timestamp_ticks, seq, json FROM events WHERE id = @id;";
        Add(command, "@id", dialect.IdValue(id));
        List<DashboardEvent> rows = await ReadEventsAsync(command, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> TypesAsync(CancellationToken cancellationToken) =>
        DistinctAsync("SELECT type FROM events WHERE type > @last ORDER BY type LIMIT 1;", 200, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ContextKeysAsync(CancellationToken cancellationToken)
    {
        await RollupsCurrentAsync(cancellationToken).ConfigureAwait(false);
        return await DistinctAsync("SELECT key FROM context_minutes WHERE key > @last ORDER BY key LIMIT 1;", 100, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ContextActivity>> ActivityAsync(string key, DateTimeOffset? from, DateTimeOffset? until, ActivitySort sort, bool descending, int limit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        await RollupsCurrentAsync(cancellationToken).ConfigureAwait(false);
        if (from is null && until is null)
        {
            return await AllTimeActivityAsync(key, sort, descending, limit, cancellationToken).ConfigureAwait(false);
        }

        long fromMinute = from is { } start ? start.UtcTicks / TicksPerMinute : long.MinValue;
        long untilMinute = until is { } end ? (end.UtcTicks + TicksPerMinute - 1) / TicksPerMinute : long.MaxValue;
        string order = sort switch
        {
            ActivitySort.Value => "value",
            ActivitySort.FirstSeen => "first_minute",
            ActivitySort.LastSeen => "last_minute",
            ActivitySort.ActiveMinutes => "active",
            _ => "events",
        };
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        var groups = new List<(string Value, long Events, long FirstMinute, long LastMinute, long Active)>();
        await using (DbCommand command = connection.CreateCommand())
        {
            command.CommandText = $"""
                SELECT value, CAST(SUM(count) AS BIGINT) AS events, MIN(minute) AS first_minute, MAX(minute) AS last_minute, COUNT(DISTINCT minute) AS active
                FROM context_minutes WHERE key = @key AND minute >= @from AND minute < @until
                GROUP BY value ORDER BY {order} {(descending ? "DESC" : "ASC")}, value ASC LIMIT @limit;
                """;
            Add(command, "@key", key);
            Add(command, "@from", fromMinute);
            Add(command, "@until", untilMinute);
            Add(command, "@limit", limit);
            await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                groups.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
            }
        }

        // Exact first and last timestamps (from the context index) and the top types, for the shown values only.
        await using DbCommand bounds = connection.CreateCommand();
        // Two index seeks (the first and the last entry of the value's range), not a walk over its events.
        bounds.CommandText = """
            SELECT (SELECT ticks FROM event_context WHERE key = @key AND value = @value AND ticks >= @from AND ticks < @until ORDER BY ticks ASC LIMIT 1),
                   (SELECT ticks FROM event_context WHERE key = @key AND value = @value AND ticks >= @from AND ticks < @until ORDER BY ticks DESC LIMIT 1);
            """;
        Add(bounds, "@key", key);
        DbParameter boundsValue = Add(bounds, "@value", string.Empty);
        Add(bounds, "@from", from?.UtcTicks ?? long.MinValue);
        Add(bounds, "@until", until?.UtcTicks ?? long.MaxValue);
        await using DbCommand types = connection.CreateCommand();
        types.CommandText = """
            SELECT type, CAST(SUM(count) AS BIGINT) AS n FROM context_minutes
            WHERE key = @key AND value = @value AND minute >= @from AND minute < @until
            GROUP BY type ORDER BY n DESC, type LIMIT 3;
            """;
        Add(types, "@key", key);
        DbParameter typesValue = Add(types, "@value", string.Empty);
        Add(types, "@from", fromMinute);
        Add(types, "@until", untilMinute);
        var result = new List<ContextActivity>(groups.Count);
        foreach ((string value, long events, long firstMinute, long lastMinute, long active) in groups)
        {
            boundsValue.Value = value;
            DateTimeOffset first = new(firstMinute * TicksPerMinute, TimeSpan.Zero), last = new(lastMinute * TicksPerMinute, TimeSpan.Zero);
            await using (DbDataReader reader = await bounds.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && !reader.IsDBNull(0))
                {
                    first = new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero);
                    last = new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero);
                }
            }

            typesValue.Value = value;
            var top = new List<KeyValuePair<string, long>>(3);
            await using (DbDataReader reader = await types.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    top.Add(new KeyValuePair<string, long>(reader.GetString(0), reader.GetInt64(1)));
                }
            }

            result.Add(new ContextActivity(value, events, first, last, active, top));
        }

        return result;
    }

    // Without a range, one row per value from the all-time totals, and its top types from their own table.
    private async Task<IReadOnlyList<ContextActivity>> AllTimeActivityAsync(string key, ActivitySort sort, bool descending, int limit, CancellationToken cancellationToken)
    {
        string order = sort switch
        {
            ActivitySort.Value => "value",
            ActivitySort.FirstSeen => "first_ticks",
            ActivitySort.LastSeen => "last_ticks",
            ActivitySort.ActiveMinutes => "active_minutes",
            _ => "events",
        };
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        var values = new List<(string Value, long Events, long First, long Last, long Active)>();
        await using (DbCommand command = connection.CreateCommand())
        {
            command.CommandText = $"""
                SELECT value, events, first_ticks, last_ticks, active_minutes FROM context_values
                WHERE key = @key ORDER BY {order} {(descending ? "DESC" : "ASC")}, value ASC LIMIT @limit;
                """;
            Add(command, "@key", key);
            Add(command, "@limit", limit);
            await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                values.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
            }
        }

        await using DbCommand types = connection.CreateCommand();
        types.CommandText = "SELECT type, count FROM context_value_types WHERE key = @key AND value = @value ORDER BY count DESC, type LIMIT 3;";
        Add(types, "@key", key);
        DbParameter typesValue = Add(types, "@value", string.Empty);
        var result = new List<ContextActivity>(values.Count);
        foreach ((string value, long events, long first, long last, long active) in values)
        {
            typesValue.Value = value;
            var top = new List<KeyValuePair<string, long>>(3);
            await using (DbDataReader reader = await types.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    top.Add(new KeyValuePair<string, long>(reader.GetString(0), reader.GetInt64(1)));
                }
            }

            result.Add(new ContextActivity(value, events, new DateTimeOffset(first, TimeSpan.Zero), new DateTimeOffset(last, TimeSpan.Zero), active, top));
        }

        return result;
    }

    // A skip scan over an index's first column: one seek per distinct value, not one step per row.
    private async Task<IReadOnlyList<string>> DistinctAsync(string sql, int limit, CancellationToken cancellationToken)
    {
        var values = new List<string>();
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = sql;
        DbParameter last = Add(command, "@last", string.Empty);
        while (values.Count < limit && await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string value)
        {
            values.Add(value);
            last.Value = value;
        }

        return values;
    }

    private static async Task<List<DashboardEvent>> ReadEventsAsync(DbCommand command, int capacity, CancellationToken cancellationToken)
    {
        var rows = new List<DashboardEvent>(Math.Min(capacity, 1000));
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            long ticks = reader.GetInt64(3);
            string id = reader.GetValue(0) switch
            {
                Guid guid => guid.ToString("D"), // PostgreSQL's uuid
                byte[] { Length: 16 } bytes => new Guid(bytes, bigEndian: true).ToString("D"), // SQLite's 16 bytes (schema 6)
                byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes), // a stored id that was never a canonical UUID
                object other => Convert.ToString(other, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
            };
            rows.Add(new DashboardEvent(id, reader.GetString(1), reader.GetString(2), new DateTimeOffset(ticks, TimeSpan.Zero), reader.GetString(5), new EventCursor(ticks, reader.GetInt64(4))));
        }

        return rows;
    }

    // Reads of the events table alone need no barrier: each commit writes its events.
    private Task RollupsCurrentAsync(CancellationToken cancellationToken) => rollupsCurrent?.Invoke(cancellationToken) ?? Task.CompletedTask;

    private static DbParameter Add(DbCommand command, string name, object value)
    {
        DbParameter parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter;
    }
}

/// <summary>Where the dashboard's SQL differs between the stores.</summary>
internal abstract class DashboardSqlDialect
{
    public static readonly DashboardSqlDialect Sqlite = new SqliteDialect();

    public static readonly DashboardSqlDialect PostgreSql = new PostgreSqlDialect();

    /// <summary>A condition: the <c>data</c> object's JSON text of the event aliased <paramref name="alias"/> contains the text parameter, ignoring case.</summary>
    public abstract string DataContainsIgnoringCase(string alias, string textParameter);

    /// <summary>An event id as the store's <c>id</c> column holds it.</summary>
    public abstract object IdValue(Guid id);

    private sealed class SqliteDialect : DashboardSqlDialect
    {
        // lower() folds ASCII letters only (SQLite without ICU).
        public override string DataContainsIgnoringCase(string alias, string textParameter) =>
            $"instr(lower(json_extract({alias}.json, '$.data')), lower({textParameter})) > 0";

        public override object IdValue(Guid id) => id.ToByteArray(bigEndian: true); // schema 6: the id's 16 bytes
    }

    private sealed class PostgreSqlDialect : DashboardSqlDialect
    {
        public override string DataContainsIgnoringCase(string alias, string textParameter) =>
            $"strpos(lower(({alias}.json::json -> 'data')::text), lower({textParameter})) > 0";

        public override object IdValue(Guid id) => id;
    }
}
