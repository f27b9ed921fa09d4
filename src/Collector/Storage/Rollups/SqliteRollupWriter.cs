using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Rollups;

/// <summary>Writes a <see cref="DashboardRollup"/> into SQLite on the store's writer connection, with prepared statements.</summary>
internal sealed class SqliteRollupWriter : IDisposable
{
    private readonly SqliteCommand _minute;
    private readonly SqliteCommand _contextRow;
    private readonly SqliteCommand _contextMinute;

    public SqliteRollupWriter(SqliteConnection writer)
    {
        _minute = writer.CreateCommand();
        _minute.CommandText = """
            INSERT INTO event_minutes (minute, type, priority, count) VALUES (@minute, @type, @priority, @count)
            ON CONFLICT (minute, type, priority) DO UPDATE SET count = count + excluded.count;
            """;
        _minute.Parameters.Add("@minute", SqliteType.Integer);
        _minute.Parameters.Add("@type", SqliteType.Text);
        _minute.Parameters.Add("@priority", SqliteType.Text);
        _minute.Parameters.Add("@count", SqliteType.Integer);

        _contextRow = writer.CreateCommand();
        _contextRow.CommandText = "INSERT INTO event_context (key, value, ticks, id) VALUES (@key, @value, @ticks, @id) ON CONFLICT DO NOTHING;";
        _contextRow.Parameters.Add("@key", SqliteType.Text);
        _contextRow.Parameters.Add("@value", SqliteType.Text);
        _contextRow.Parameters.Add("@ticks", SqliteType.Integer);
        _contextRow.Parameters.Add("@id", SqliteType.Text);

        _contextMinute = writer.CreateCommand();
        _contextMinute.CommandText = """
            INSERT INTO context_minutes (key, value, minute, type, count) VALUES (@key, @value, @minute, @type, @count)
            ON CONFLICT (key, value, minute, type) DO UPDATE SET count = count + excluded.count;
            """;
        _contextMinute.Parameters.Add("@key", SqliteType.Text);
        _contextMinute.Parameters.Add("@value", SqliteType.Text);
        _contextMinute.Parameters.Add("@minute", SqliteType.Integer);
        _contextMinute.Parameters.Add("@type", SqliteType.Text);
        _contextMinute.Parameters.Add("@count", SqliteType.Integer);
    }

    public void Write(SqliteTransaction transaction, DashboardRollup rollup)
    {
        _minute.Transaction = transaction;
        _contextRow.Transaction = transaction;
        _contextMinute.Transaction = transaction;
        foreach (((long minute, string type, string priority), long count) in rollup.Minutes)
        {
            _minute.Parameters["@minute"].Value = minute;
            _minute.Parameters["@type"].Value = type;
            _minute.Parameters["@priority"].Value = priority;
            _minute.Parameters["@count"].Value = count;
            _minute.ExecuteNonQuery();
        }

        foreach ((string key, string value, long ticks, Guid id) in rollup.ContextRows)
        {
            _contextRow.Parameters["@key"].Value = key;
            _contextRow.Parameters["@value"].Value = value;
            _contextRow.Parameters["@ticks"].Value = ticks;
            _contextRow.Parameters["@id"].Value = id.ToString("D");
            _contextRow.ExecuteNonQuery();
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
    }

    public void Dispose()
    {
        _minute.Dispose();
        _contextRow.Dispose();
        _contextMinute.Dispose();
    }
}
