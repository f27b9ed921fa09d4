using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Dashboard.Queries;

/// <summary>
/// The dashboard's reads over the SQLite store. Two rollups are kept up to date by a trigger on <c>events</c> (so every
/// writer maintains them in the insert's own transaction): events per minute and type, and, per <c>context</c> field
/// and value, the events (for the explorer's context filter) and events per minute and type (for the activity view).
/// </summary>
public sealed class SqliteDashboardQueries : IDashboardQueries
{
    private const long TicksPerMinute = TimeSpan.TicksPerMinute;
    private readonly string _connectionString;

    /// <summary>Opens the store's database and creates the rollups (filling them from stored events) when missing.</summary>
    /// <param name="databasePath">The store's SQLite file; its <c>events</c> table must exist.</param>
    public SqliteDashboardQueries(string databasePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadWrite, Pooling = true, DefaultTimeout = 30 }.ToString();
        using SqliteConnection connection = Open();
        using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        using SqliteCommand exists = connection.CreateCommand();
        exists.Transaction = transaction;
        exists.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'events_dashboard_rollups';";
        if ((long)exists.ExecuteScalar()! == 0)
        {
            using SqliteCommand create = connection.CreateCommand();
            create.Transaction = transaction;
            create.CommandText = Schema;
            create.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    // Minutes are UTC ticks / TicksPerMinute. Only string context values are indexed (the validator allows null too).
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS event_minutes (minute INTEGER NOT NULL, type TEXT NOT NULL, priority TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (minute, type, priority)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS event_context (key TEXT NOT NULL, value TEXT NOT NULL, ticks INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, value, ticks, seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS context_minutes (key TEXT NOT NULL, value TEXT NOT NULL, minute INTEGER NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key, value, minute, type)) WITHOUT ROWID;
        DELETE FROM event_minutes; DELETE FROM event_context; DELETE FROM context_minutes;
        INSERT INTO event_minutes SELECT timestamp_ticks / 600000000, type, priority, COUNT(*) FROM events GROUP BY 1, 2, 3;
        INSERT INTO event_context SELECT j.key, j.value, e.timestamp_ticks, e.seq FROM events e, json_each(e.json, '$.context') j WHERE j.type = 'text';
        INSERT INTO context_minutes SELECT j.key, j.value, e.timestamp_ticks / 600000000, e.type, COUNT(*) FROM events e, json_each(e.json, '$.context') j WHERE j.type = 'text' GROUP BY 1, 2, 3, 4;
        CREATE TRIGGER events_dashboard_rollups AFTER INSERT ON events BEGIN
            INSERT OR IGNORE INTO event_minutes VALUES (NEW.timestamp_ticks / 600000000, NEW.type, NEW.priority, 0);
            UPDATE event_minutes SET count = count + 1 WHERE minute = NEW.timestamp_ticks / 600000000 AND type = NEW.type AND priority = NEW.priority;
            INSERT OR IGNORE INTO event_context SELECT j.key, j.value, NEW.timestamp_ticks, NEW.seq FROM json_each(NEW.json, '$.context') j WHERE j.type = 'text';
            INSERT OR IGNORE INTO context_minutes SELECT j.key, j.value, NEW.timestamp_ticks / 600000000, NEW.type, 0 FROM json_each(NEW.json, '$.context') j WHERE j.type = 'text';
            UPDATE context_minutes SET count = count + 1
                WHERE minute = NEW.timestamp_ticks / 600000000 AND type = NEW.type
                  AND (key, value) IN (SELECT j.key, j.value FROM json_each(NEW.json, '$.context') j WHERE j.type = 'text');
        END;
        """;

    /// <inheritdoc />
    public async Task<TimeSeries> CountByTypeOverTimeAsync(DateTimeOffset from, DateTimeOffset until, TimeSpan bucketSize, CancellationToken cancellationToken)
    {
        long bucketMinutes = Math.Max(1, (long)bucketSize.TotalMinutes);
        long firstMinute = from.UtcTicks / TicksPerMinute / bucketMinutes * bucketMinutes;
        long endMinute = (until.UtcTicks + TicksPerMinute - 1) / TicksPerMinute;
        int buckets = (int)Math.Max(1, (endMinute - firstMinute + bucketMinutes - 1) / bucketMinutes);
        var counts = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        var byPriority = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT minute, type, priority, count FROM event_minutes WHERE minute >= $from AND minute < $end;";
        command.Parameters.AddWithValue("$from", firstMinute);
        command.Parameters.AddWithValue("$end", endMinute);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            int bucket = (int)((reader.GetInt64(0) - firstMinute) / bucketMinutes);
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
    public async Task<EventRowPage> FindEventsAsync(EventFilter filter, int limit, EventPosition? after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        var where = new List<string>();
        var sql = new StringBuilder();
        string ticks, seq;
        if (filter.ContextKey is not null && filter.ContextValue is not null)
        {
            // Walk the context index (key, value, ticks, seq) newest first and fetch each event by its rowid.
            sql.Append("SELECT e.id, e.type, e.priority, e.timestamp_ticks, e.seq, e.json FROM event_context c JOIN events e ON e.seq = c.seq");
            where.Add("c.key = $key AND c.value = $value");
            command.Parameters.AddWithValue("$key", filter.ContextKey);
            command.Parameters.AddWithValue("$value", filter.ContextValue);
            (ticks, seq) = ("c.ticks", "c.seq");
        }
        else
        {
            sql.Append("SELECT e.id, e.type, e.priority, e.timestamp_ticks, e.seq, e.json FROM events e");
            (ticks, seq) = ("e.timestamp_ticks", "e.seq");
        }

        if (filter.Type is not null)
        {
            where.Add("e.type = $type");
            command.Parameters.AddWithValue("$type", filter.Type);
        }

        if (filter.From is { } from)
        {
            where.Add($"{ticks} >= $from");
            command.Parameters.AddWithValue("$from", from.UtcTicks);
        }

        if (filter.Until is { } until)
        {
            where.Add($"{ticks} < $until");
            command.Parameters.AddWithValue("$until", until.UtcTicks);
        }

        if (after is { } position)
        {
            where.Add($"({ticks} < $afterTicks OR ({ticks} = $afterTicks AND {seq} < $afterSeq))");
            command.Parameters.AddWithValue("$afterTicks", position.Ticks);
            command.Parameters.AddWithValue("$afterSeq", position.Sequence);
        }

        if (!string.IsNullOrEmpty(filter.Text))
        {
            // json_extract gives the data object's JSON text; lower() folds ASCII letters only (SQLite without ICU).
            where.Add("instr(lower(json_extract(e.json, '$.data')), lower($text)) > 0");
            command.Parameters.AddWithValue("$text", filter.Text);
        }

        if (where.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", where);
        }

        sql.Append(CultureInfo.InvariantCulture, $" ORDER BY {ticks} DESC, {seq} DESC LIMIT $limit;");
        command.Parameters.AddWithValue("$limit", limit + 1);
        command.CommandText = sql.ToString();
        List<EventRow> rows = await ReadRowsAsync(command, limit + 1, cancellationToken).ConfigureAwait(false);
        EventPosition? next = null;
        if (rows.Count > limit)
        {
            rows.RemoveAt(limit);
            next = rows[^1].Position;
        }

        return new EventRowPage(rows, next);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<EventRow>> NewestAsync(long? afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, priority, timestamp_ticks, seq, json FROM events WHERE seq > $after ORDER BY seq DESC LIMIT $limit;";
        command.Parameters.AddWithValue("$after", afterSequence ?? 0);
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadRowsAsync(command, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<EventRow?> FindEventAsync(Guid id, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, type, priority, timestamp_ticks, seq, json FROM events WHERE id = $id;";
        command.Parameters.AddWithValue("$id", id.ToString("D"));
        List<EventRow> rows = await ReadRowsAsync(command, 1, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> TypesAsync(CancellationToken cancellationToken) =>
        DistinctAsync("SELECT type FROM events WHERE type > $last ORDER BY type LIMIT 1;", 200, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ContextKeysAsync(CancellationToken cancellationToken) =>
        DistinctAsync("SELECT key FROM context_minutes WHERE key > $last ORDER BY key LIMIT 1;", 100, cancellationToken);

    // A skip scan over an index's first column: one seek per distinct value, not one step per row.
    private async Task<IReadOnlyList<string>> DistinctAsync(string sql, int limit, CancellationToken cancellationToken)
    {
        var values = new List<string>();
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        SqliteParameter last = command.Parameters.AddWithValue("$last", string.Empty);
        while (values.Count < limit && await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string value)
        {
            values.Add(value);
            last.Value = value;
        }

        return values;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ContextActivity>> ActivityAsync(string key, DateTimeOffset? from, DateTimeOffset? until, ActivitySort sort, bool descending, int limit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        string range = string.Empty;
        command.Parameters.AddWithValue("$key", key);
        if (from is { } start)
        {
            range += " AND minute >= $from";
            command.Parameters.AddWithValue("$from", start.UtcTicks / TicksPerMinute);
        }

        if (until is { } end)
        {
            range += " AND minute < $until";
            command.Parameters.AddWithValue("$until", (end.UtcTicks + TicksPerMinute - 1) / TicksPerMinute);
        }

        string order = sort switch
        {
            ActivitySort.Value => "value",
            ActivitySort.FirstSeen => "first_minute",
            ActivitySort.LastSeen => "last_minute",
            ActivitySort.ActiveMinutes => "active",
            _ => "events",
        };
        string direction = descending ? "DESC" : "ASC";
        command.CommandText = $"""
            SELECT value, SUM(count) AS events, MIN(minute) AS first_minute, MAX(minute) AS last_minute, COUNT(DISTINCT minute) AS active
            FROM context_minutes WHERE key = $key{range}
            GROUP BY value ORDER BY {order} {direction}, value ASC LIMIT $limit;
            """;
        command.Parameters.AddWithValue("$limit", limit);
        var groups = new List<(string Value, long Events, long FirstMinute, long LastMinute, long Active)>();
        await using (SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                groups.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
            }
        }

        // Exact first and last timestamps and the top types, for the shown values only (index seeks per value).
        await using SqliteCommand bounds = connection.CreateCommand();
        bounds.CommandText = "SELECT MIN(ticks), MAX(ticks) FROM event_context WHERE key = $key AND value = $value AND ticks >= $from AND ticks < $until;";
        bounds.Parameters.AddWithValue("$key", key);
        SqliteParameter boundsValue = bounds.Parameters.Add("$value", SqliteType.Text);
        bounds.Parameters.AddWithValue("$from", from?.UtcTicks ?? 0);
        bounds.Parameters.AddWithValue("$until", until?.UtcTicks ?? DateTimeOffset.MaxValue.UtcTicks);
        await using SqliteCommand types = connection.CreateCommand();
        types.CommandText = $"SELECT type, SUM(count) AS n FROM context_minutes WHERE key = $key AND value = $value{range} GROUP BY type ORDER BY n DESC, type LIMIT 3;";
        foreach (SqliteParameter parameter in command.Parameters)
        {
            if (parameter.ParameterName != "$limit")
            {
                types.Parameters.AddWithValue(parameter.ParameterName, parameter.Value);
            }
        }

        SqliteParameter typesValue = types.Parameters.Add("$value", SqliteType.Text);
        var result = new List<ContextActivity>(groups.Count);
        foreach ((string value, long events, long firstMinute, long lastMinute, long active) in groups)
        {
            boundsValue.Value = value;
            DateTimeOffset first = new(firstMinute * TicksPerMinute, TimeSpan.Zero), last = new(lastMinute * TicksPerMinute, TimeSpan.Zero);
            await using (SqliteDataReader reader = await bounds.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && !reader.IsDBNull(0))
                {
                    first = new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero);
                    last = new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero);
                }
            }

            typesValue.Value = value;
            var top = new List<KeyValuePair<string, long>>(3);
            await using (SqliteDataReader reader = await types.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
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

    private static async Task<List<EventRow>> ReadRowsAsync(SqliteCommand command, int capacity, CancellationToken cancellationToken)
    {
        var rows = new List<EventRow>(Math.Min(capacity, 1000));
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            long ticks = reader.GetInt64(3);
            rows.Add(new EventRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), new DateTimeOffset(ticks, TimeSpan.Zero), reader.GetString(5), new EventPosition(ticks, reader.GetInt64(4))));
        }

        return rows;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }
}
