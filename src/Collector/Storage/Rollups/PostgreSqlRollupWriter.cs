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
        }
    }

    private static NpgsqlParameter<T[]> Array<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | type) { TypedValue = [.. values] };
}
