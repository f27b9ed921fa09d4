using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Rollups;

/// <summary>Writes a <see cref="DashboardRollup"/> into SQLite on the store's writer connection, with prepared statements.</summary>
internal sealed class SqliteRollupWriter : IDisposable
{
    private readonly SqliteCommand _minute;
    private readonly RawStatement _contextRow;
    private readonly SqliteCommand _contextMinute;
    private readonly SqliteCommand _valueMinute;
    private readonly SqliteCommand _value;
    private readonly SqliteCommand _valueType;

    public SqliteRollupWriter(SqliteConnection writer)
    {
        _minute = SqliteStatements.Create(
            writer,
            """
            INSERT INTO event_minutes (minute, type, priority, count) VALUES (@minute, @type, @priority, @count)
            ON CONFLICT (minute, type, priority) DO UPDATE SET count = count + excluded.count;
            """,
            ("@minute", SqliteType.Integer), ("@type", SqliteType.Text), ("@priority", SqliteType.Text), ("@count", SqliteType.Integer));

        _contextMinute = SqliteStatements.Create(
            writer,
            """
            INSERT INTO context_minutes (key, value, minute, type, count) VALUES (@key, @value, @minute, @type, @count)
            ON CONFLICT (key, value, minute, type) DO UPDATE SET count = count + excluded.count;
            """,
            ("@key", SqliteType.Text), ("@value", SqliteType.Text), ("@minute", SqliteType.Integer), ("@type", SqliteType.Text), ("@count", SqliteType.Integer));

        _valueMinute = SqliteStatements.Create(
            writer,
            "INSERT INTO context_value_minutes (key, value, minute) VALUES (@key, @value, @minute) ON CONFLICT DO NOTHING;",
            ("@key", SqliteType.Text), ("@value", SqliteType.Text), ("@minute", SqliteType.Integer));

        _value = SqliteStatements.Create(
            writer,
            """
            INSERT INTO context_values (key, value, events, first_ticks, last_ticks, active_minutes) VALUES (@key, @value, @events, @first, @last, @active)
            ON CONFLICT (key, value) DO UPDATE SET
                events = events + excluded.events,
                first_ticks = MIN(first_ticks, excluded.first_ticks),
                last_ticks = MAX(last_ticks, excluded.last_ticks),
                active_minutes = active_minutes + excluded.active_minutes;
            """,
            ("@key", SqliteType.Text), ("@value", SqliteType.Text), ("@events", SqliteType.Integer), ("@first", SqliteType.Integer), ("@last", SqliteType.Integer), ("@active", SqliteType.Integer));

        _valueType = SqliteStatements.Create(
            writer,
            """
            INSERT INTO context_value_types (key, value, type, count) VALUES (@key, @value, @type, @count)
            ON CONFLICT (key, value, type) DO UPDATE SET count = count + excluded.count;
            """,
            ("@key", SqliteType.Text), ("@value", SqliteType.Text), ("@type", SqliteType.Text), ("@count", SqliteType.Integer));

        // Last: should a statement above fail to prepare (the writer then closes its connection), the connection disposes
        // the commands it made, but nothing would finalize a raw statement made before them.
        _contextRow = new RawStatement(writer, "INSERT INTO event_context (key, value, ticks, seq) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING;");
    }

    /// <param name="transaction">The writer's transaction.</param>
    /// <param name="rollup">The sums of the commit's new events.</param>
    /// <param name="seqs">The seq of each of those events, in the order the rollup got them.</param>
    public void Write(SqliteTransaction transaction, DashboardRollup rollup, IReadOnlyList<long> seqs)
    {
        if (seqs.Count != rollup.EventCount)
        {
            throw new InvalidOperationException($"The commit added {seqs.Count} events but its rollup sums {rollup.EventCount}.");
        }

        _minute.Transaction = transaction;
        _contextMinute.Transaction = transaction;
        _valueMinute.Transaction = transaction;
        _value.Transaction = transaction;
        _valueType.Transaction = transaction;
        foreach (((long minute, string type, string priority), long count) in rollup.Minutes)
        {
            _minute.Parameters["@minute"].Value = minute;
            _minute.Parameters["@type"].Value = type;
            _minute.Parameters["@priority"].Value = priority;
            _minute.Parameters["@count"].Value = count;
            _minute.ExecuteNonQuery();
        }

        foreach ((string key, string value, long ticks, int position) in rollup.ContextRows)
        {
            // One row per context field of every new event: the per-event path, bound through SQLitePCL.raw.
            _contextRow.Bind(1, key);
            _contextRow.Bind(2, value);
            _contextRow.Bind(3, ticks);
            _contextRow.Bind(4, seqs[position]);
            _contextRow.Execute();
        }

        foreach (((string key, string value, long minute, string type), long count) in rollup.ContextMinutes)
        {
            _contextMinute.Parameters["@key"].Value = key;
            _contextMinute.Parameters["@value"].Value = value;
            _contextMinute.Parameters["@minute"].Value = minute;
            _contextMinute.Parameters["@type"].Value = type;
            _contextMinute.Parameters["@count"].Value = count;
            _contextMinute.ExecuteNonQuery();
        }

        // A value's active minutes grow by the minutes it had no event in before: the rows this commit adds.
        var newMinutes = new Dictionary<(string Key, string Value), long>();
        foreach ((string key, string value, long minute) in rollup.ContextMinutes.Keys.Select(k => (k.Key, k.Value, k.Minute)).Distinct())
        {
            _valueMinute.Parameters["@key"].Value = key;
            _valueMinute.Parameters["@value"].Value = value;
            _valueMinute.Parameters["@minute"].Value = minute;
            if (_valueMinute.ExecuteNonQuery() == 1)
            {
                newMinutes[(key, value)] = newMinutes.GetValueOrDefault((key, value)) + 1;
            }
        }

        foreach (((string key, string value), DashboardRollup.ValueTotals totals) in rollup.Values)
        {
            _value.Parameters["@key"].Value = key;
            _value.Parameters["@value"].Value = value;
            _value.Parameters["@events"].Value = totals.Events;
            _value.Parameters["@first"].Value = totals.FirstTicks;
            _value.Parameters["@last"].Value = totals.LastTicks;
            _value.Parameters["@active"].Value = newMinutes.GetValueOrDefault((key, value));
            _value.ExecuteNonQuery();
        }

        foreach (((string key, string value, string type), long count) in rollup.ValueTypes)
        {
            _valueType.Parameters["@key"].Value = key;
            _valueType.Parameters["@value"].Value = value;
            _valueType.Parameters["@type"].Value = type;
            _valueType.Parameters["@count"].Value = count;
            _valueType.ExecuteNonQuery();
        }
    }

    public void Dispose()
    {
        _minute.Dispose();
        _contextRow.Dispose();
        _contextMinute.Dispose();
        _valueMinute.Dispose();
        _value.Dispose();
        _valueType.Dispose();
    }
}
