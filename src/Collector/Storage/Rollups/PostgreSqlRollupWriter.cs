using Npgsql;
using NpgsqlTypes;

namespace Instrumentation.Collector.Storage.Rollups;

/// <summary>
/// Writes a <see cref="DashboardRollup"/> into PostgreSQL: one multi-row statement per table (arrays through
/// <c>unnest</c>), added to the commit's last batch. The context index (<see cref="AddContextRows"/>) holds rows of this
/// commit's new events only, so no other transaction touches them; the totals (<see cref="AddTotals"/>) are rows every
/// transaction updates, so they go last, just before COMMIT, each statement taking its rows in key order (<c>ORDER BY</c>) and the statements in one
/// fixed table order: concurrent writers (of one instance or of several) lock those rows in the same order, never in a
/// cycle, and hold them only from there to the commit.
/// </summary>
internal static class PostgreSqlRollupWriter
{
    // No conflict clause: each row holds one of this commit's new events' seq, and an event has one row per key
    // (DashboardRollup.Add), so no row can already be there, and a speculative insertion would cost the server an extra
    // step per row (measured: as much as the events insert itself at commits of ~130 events).
    private const string ContextRowsSql = """
        INSERT INTO event_context (key, value, ticks, seq)
        SELECT * FROM unnest(@keys, @values, @ticks, @seqs);
        """;

    private const string MinutesSql = """
        INSERT INTO event_minutes (minute, type, priority, count)
        SELECT * FROM unnest(@minutes, @types, @priorities, @counts) AS r(minute, type, priority, count)
        ORDER BY minute, type, priority
        ON CONFLICT (minute, type, priority) DO UPDATE SET count = event_minutes.count + excluded.count;
        """;

    private const string ContextMinutesSql = """
        INSERT INTO context_minutes (key, value, minute, type, count)
        SELECT * FROM unnest(@keys, @values, @minutes, @types, @counts) AS r(key, value, minute, type, count)
        ORDER BY key, value, minute, type
        ON CONFLICT (key, value, minute, type) DO UPDATE SET count = context_minutes.count + excluded.count;
        """;

    // The unique key of context_value_minutes decides which transaction adds a minute first, so concurrent writers never
    // count a value's active minute twice: each adds to active_minutes only the minutes its own insert added.
    private const string ValuesSql = """
        WITH added AS (
            INSERT INTO context_value_minutes (key, value, minute)
            SELECT * FROM unnest(@minute_keys, @minute_values, @minutes) AS m(key, value, minute)
            ORDER BY key, value, minute
            ON CONFLICT DO NOTHING
            RETURNING key, value),
        added_per_value AS (SELECT key, value, count(*) AS minutes FROM added GROUP BY key, value)
        INSERT INTO context_values (key, value, events, first_ticks, last_ticks, active_minutes)
        SELECT v.key, v.value, v.events, v.first_ticks, v.last_ticks, COALESCE(a.minutes, 0)
        FROM unnest(@keys, @values, @events, @firsts, @lasts) AS v(key, value, events, first_ticks, last_ticks)
        LEFT JOIN added_per_value a ON a.key = v.key AND a.value = v.value
        ORDER BY v.key, v.value
        ON CONFLICT (key, value) DO UPDATE SET
            events = context_values.events + excluded.events,
            first_ticks = LEAST(context_values.first_ticks, excluded.first_ticks),
            last_ticks = GREATEST(context_values.last_ticks, excluded.last_ticks),
            active_minutes = context_values.active_minutes + excluded.active_minutes;
        """;

    private const string ValueTypesSql = """
        INSERT INTO context_value_types (key, value, type, count)
        SELECT * FROM unnest(@keys, @values, @types, @counts) AS r(key, value, type, count)
        ORDER BY key, value, type
        ON CONFLICT (key, value, type) DO UPDATE SET count = context_value_types.count + excluded.count;
        """;

    /// <summary>Adds the statement that inserts this commit's rows of the context index (<c>event_context</c>) to <paramref name="batch"/>.</summary>
    /// <param name="batch">The commit's batch.</param>
    /// <param name="rollup">The sums of the commit's new events.</param>
    /// <param name="seqs">The seq of each of those events, in the order the rollup got them.</param>
    public static void AddContextRows(NpgsqlBatch batch, DashboardRollup rollup, IReadOnlyList<long> seqs)
    {
        if (seqs.Count != rollup.EventCount)
        {
            throw new InvalidOperationException($"The commit added {seqs.Count} events but its rollup sums {rollup.EventCount}.");
        }

        if (rollup.ContextRows.Count == 0)
        {
            return;
        }

        var command = new NpgsqlBatchCommand(ContextRowsSql);
        command.Parameters.Add(Array("keys", NpgsqlDbType.Text, rollup.ContextRows.Select(r => r.Key)));
        command.Parameters.Add(Array("values", NpgsqlDbType.Text, rollup.ContextRows.Select(r => r.Value)));
        command.Parameters.Add(Array("ticks", NpgsqlDbType.Bigint, rollup.ContextRows.Select(r => r.Ticks)));
        command.Parameters.Add(Array("seqs", NpgsqlDbType.Bigint, rollup.ContextRows.Select(r => seqs[r.Event])));
        batch.BatchCommands.Add(command);
    }

    /// <summary>
    /// Adds the statements that update the shared totals to <paramref name="batch"/>, in the order every writer uses:
    /// <c>event_minutes</c>, <c>context_minutes</c>, <c>context_value_minutes</c> with <c>context_values</c>, then
    /// <c>context_value_types</c> (after the caller's <c>event_counts</c>).
    /// </summary>
    public static void AddTotals(NpgsqlBatch batch, DashboardRollup rollup)
    {
        if (rollup.Minutes.Count > 0)
        {
            var command = new NpgsqlBatchCommand(MinutesSql);
            command.Parameters.Add(Array("minutes", NpgsqlDbType.Bigint, rollup.Minutes.Keys.Select(k => k.Minute)));
            command.Parameters.Add(Array("types", NpgsqlDbType.Text, rollup.Minutes.Keys.Select(k => k.Type)));
            command.Parameters.Add(Array("priorities", NpgsqlDbType.Text, rollup.Minutes.Keys.Select(k => k.Priority)));
            command.Parameters.Add(Array("counts", NpgsqlDbType.Bigint, rollup.Minutes.Values));
            batch.BatchCommands.Add(command);
        }

        if (rollup.ContextMinutes.Count == 0)
        {
            return;
        }

        var contextMinutes = rollup.ContextMinutes.ToArray();
        var minutesCommand = new NpgsqlBatchCommand(ContextMinutesSql);
        minutesCommand.Parameters.Add(Array("keys", NpgsqlDbType.Text, contextMinutes.Select(r => r.Key.Key)));
        minutesCommand.Parameters.Add(Array("values", NpgsqlDbType.Text, contextMinutes.Select(r => r.Key.Value)));
        minutesCommand.Parameters.Add(Array("minutes", NpgsqlDbType.Bigint, contextMinutes.Select(r => r.Key.Minute)));
        minutesCommand.Parameters.Add(Array("types", NpgsqlDbType.Text, contextMinutes.Select(r => r.Key.Type)));
        minutesCommand.Parameters.Add(Array("counts", NpgsqlDbType.Bigint, contextMinutes.Select(r => r.Value)));
        batch.BatchCommands.Add(minutesCommand);

        var activeMinutes = contextMinutes.Select(r => (r.Key.Key, r.Key.Value, r.Key.Minute)).Distinct().ToArray();
        var values = rollup.Values.ToArray();
        var valuesCommand = new NpgsqlBatchCommand(ValuesSql);
        valuesCommand.Parameters.Add(Array("minute_keys", NpgsqlDbType.Text, activeMinutes.Select(m => m.Key)));
        valuesCommand.Parameters.Add(Array("minute_values", NpgsqlDbType.Text, activeMinutes.Select(m => m.Value)));
        valuesCommand.Parameters.Add(Array("minutes", NpgsqlDbType.Bigint, activeMinutes.Select(m => m.Minute)));
        valuesCommand.Parameters.Add(Array("keys", NpgsqlDbType.Text, values.Select(v => v.Key.Key)));
        valuesCommand.Parameters.Add(Array("values", NpgsqlDbType.Text, values.Select(v => v.Key.Value)));
        valuesCommand.Parameters.Add(Array("events", NpgsqlDbType.Bigint, values.Select(v => v.Value.Events)));
        valuesCommand.Parameters.Add(Array("firsts", NpgsqlDbType.Bigint, values.Select(v => v.Value.FirstTicks)));
        valuesCommand.Parameters.Add(Array("lasts", NpgsqlDbType.Bigint, values.Select(v => v.Value.LastTicks)));
        batch.BatchCommands.Add(valuesCommand);

        var types = rollup.ValueTypes.ToArray();
        var typesCommand = new NpgsqlBatchCommand(ValueTypesSql);
        typesCommand.Parameters.Add(Array("keys", NpgsqlDbType.Text, types.Select(t => t.Key.Key)));
        typesCommand.Parameters.Add(Array("values", NpgsqlDbType.Text, types.Select(t => t.Key.Value)));
        typesCommand.Parameters.Add(Array("types", NpgsqlDbType.Text, types.Select(t => t.Key.Type)));
        typesCommand.Parameters.Add(Array("counts", NpgsqlDbType.Bigint, types.Select(t => t.Value)));
        batch.BatchCommands.Add(typesCommand);
    }

    /// <summary>An array parameter for <c>unnest</c>, made from <paramref name="values"/>.</summary>
    internal static NpgsqlParameter<T[]> Array<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | type) { TypedValue = [.. values] };
}
