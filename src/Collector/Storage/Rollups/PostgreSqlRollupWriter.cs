using Npgsql;
using NpgsqlTypes;

namespace Instrumentation.Collector.Storage.Rollups;

/// <summary>Writes a <see cref="DashboardRollup"/> into PostgreSQL: one multi-row statement per table (arrays through <c>unnest</c>).</summary>
internal static class PostgreSqlRollupWriter
{
    private const string MinutesSql = """
        INSERT INTO event_minutes (minute, type, priority, count)
        SELECT * FROM unnest(@minutes, @types, @priorities, @counts)
        ON CONFLICT (minute, type, priority) DO UPDATE SET count = event_minutes.count + excluded.count;
        """;

    private const string ContextRowsSql = """
        INSERT INTO event_context (key, value, ticks, id)
        SELECT * FROM unnest(@keys, @values, @ticks, @ids)
        ON CONFLICT DO NOTHING;
        """;

    private const string ContextMinutesSql = """
        INSERT INTO context_minutes (key, value, minute, type, count)
        SELECT * FROM unnest(@keys, @values, @minutes, @types, @counts)
        ON CONFLICT (key, value, minute, type) DO UPDATE SET count = context_minutes.count + excluded.count;
        """;

    private const string ValueMinutesSql = """
        INSERT INTO context_value_minutes (key, value, minute)
        SELECT * FROM unnest(@keys, @values, @minutes)
        ON CONFLICT DO NOTHING
        RETURNING key, value;
        """;

    private const string ValuesSql = """
        INSERT INTO context_values (key, value, events, first_ticks, last_ticks, active_minutes)
        SELECT * FROM unnest(@keys, @values, @events, @firsts, @lasts, @actives)
        ON CONFLICT (key, value) DO UPDATE SET
            events = context_values.events + excluded.events,
            first_ticks = LEAST(context_values.first_ticks, excluded.first_ticks),
            last_ticks = GREATEST(context_values.last_ticks, excluded.last_ticks),
            active_minutes = context_values.active_minutes + excluded.active_minutes;
        """;

    private const string ValueTypesSql = """
        INSERT INTO context_value_types (key, value, type, count)
        SELECT * FROM unnest(@keys, @values, @types, @counts)
        ON CONFLICT (key, value, type) DO UPDATE SET count = context_value_types.count + excluded.count;
        """;

    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DashboardRollup rollup, CancellationToken cancellationToken)
    {
        // Rows in key order, so that concurrent writers of several collector instances take row locks in one order.
        if (rollup.Minutes.Count > 0)
        {
            var rows = rollup.Minutes.OrderBy(r => r.Key.Minute).ThenBy(r => r.Key.Type, StringComparer.Ordinal).ThenBy(r => r.Key.Priority, StringComparer.Ordinal).ToArray();
            await using var command = new NpgsqlCommand(MinutesSql, connection, transaction);
            command.Parameters.Add(Array("minutes", NpgsqlDbType.Bigint, rows.Select(r => r.Key.Minute)));
            command.Parameters.Add(Array("types", NpgsqlDbType.Text, rows.Select(r => r.Key.Type)));
            command.Parameters.Add(Array("priorities", NpgsqlDbType.Text, rows.Select(r => r.Key.Priority)));
            command.Parameters.Add(Array("counts", NpgsqlDbType.Bigint, rows.Select(r => r.Value)));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (rollup.ContextRows.Count > 0)
        {
            await using var command = new NpgsqlCommand(ContextRowsSql, connection, transaction);
            command.Parameters.Add(Array("keys", NpgsqlDbType.Text, rollup.ContextRows.Select(r => r.Key)));
            command.Parameters.Add(Array("values", NpgsqlDbType.Text, rollup.ContextRows.Select(r => r.Value)));
            command.Parameters.Add(Array("ticks", NpgsqlDbType.Bigint, rollup.ContextRows.Select(r => r.Ticks)));
            command.Parameters.Add(Array("ids", NpgsqlDbType.Uuid, rollup.ContextRows.Select(r => r.Id)));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (rollup.ContextMinutes.Count > 0)
        {
            var rows = rollup.ContextMinutes
                .OrderBy(r => r.Key.Key, StringComparer.Ordinal).ThenBy(r => r.Key.Value, StringComparer.Ordinal).ThenBy(r => r.Key.Minute).ThenBy(r => r.Key.Type, StringComparer.Ordinal)
                .ToArray();
            await using var command = new NpgsqlCommand(ContextMinutesSql, connection, transaction);
            command.Parameters.Add(Array("keys", NpgsqlDbType.Text, rows.Select(r => r.Key.Key)));
            command.Parameters.Add(Array("values", NpgsqlDbType.Text, rows.Select(r => r.Key.Value)));
            command.Parameters.Add(Array("minutes", NpgsqlDbType.Bigint, rows.Select(r => r.Key.Minute)));
            command.Parameters.Add(Array("types", NpgsqlDbType.Text, rows.Select(r => r.Key.Type)));
            command.Parameters.Add(Array("counts", NpgsqlDbType.Bigint, rows.Select(r => r.Value)));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

            // The unique key decides which instance adds a minute first, so concurrent writers never count it twice.
            var newMinutes = new Dictionary<(string Key, string Value), long>();
            var minutes = rows.Select(r => (r.Key.Key, r.Key.Value, r.Key.Minute)).Distinct().ToArray();
            await using (var insert = new NpgsqlCommand(ValueMinutesSql, connection, transaction))
            {
                insert.Parameters.Add(Array("keys", NpgsqlDbType.Text, minutes.Select(m => m.Key)));
                insert.Parameters.Add(Array("values", NpgsqlDbType.Text, minutes.Select(m => m.Value)));
                insert.Parameters.Add(Array("minutes", NpgsqlDbType.Bigint, minutes.Select(m => m.Minute)));
                await using NpgsqlDataReader reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var key = (reader.GetString(0), reader.GetString(1));
                    newMinutes[key] = newMinutes.GetValueOrDefault(key) + 1;
                }
            }

            var values = rollup.Values.OrderBy(v => v.Key.Key, StringComparer.Ordinal).ThenBy(v => v.Key.Value, StringComparer.Ordinal).ToArray();
            await using (var upsert = new NpgsqlCommand(ValuesSql, connection, transaction))
            {
                upsert.Parameters.Add(Array("keys", NpgsqlDbType.Text, values.Select(v => v.Key.Key)));
                upsert.Parameters.Add(Array("values", NpgsqlDbType.Text, values.Select(v => v.Key.Value)));
                upsert.Parameters.Add(Array("events", NpgsqlDbType.Bigint, values.Select(v => v.Value.Events)));
                upsert.Parameters.Add(Array("firsts", NpgsqlDbType.Bigint, values.Select(v => v.Value.FirstTicks)));
                upsert.Parameters.Add(Array("lasts", NpgsqlDbType.Bigint, values.Select(v => v.Value.LastTicks)));
                upsert.Parameters.Add(Array("actives", NpgsqlDbType.Bigint, values.Select(v => newMinutes.GetValueOrDefault(v.Key))));
                await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var types = rollup.ValueTypes.OrderBy(t => t.Key.Key, StringComparer.Ordinal).ThenBy(t => t.Key.Value, StringComparer.Ordinal).ThenBy(t => t.Key.Type, StringComparer.Ordinal).ToArray();
            await using (var upsert = new NpgsqlCommand(ValueTypesSql, connection, transaction))
            {
                upsert.Parameters.Add(Array("keys", NpgsqlDbType.Text, types.Select(t => t.Key.Key)));
                upsert.Parameters.Add(Array("values", NpgsqlDbType.Text, types.Select(t => t.Key.Value)));
                upsert.Parameters.Add(Array("types", NpgsqlDbType.Text, types.Select(t => t.Key.Type)));
                upsert.Parameters.Add(Array("counts", NpgsqlDbType.Bigint, types.Select(t => t.Value)));
                await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static NpgsqlParameter<T[]> Array<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | type) { TypedValue = [.. values] };
}
