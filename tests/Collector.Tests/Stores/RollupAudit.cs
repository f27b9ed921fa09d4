using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>
/// The dashboard's tables of a SQLite store (its rollup file, attached to its events file) against what they must hold: each table's rows as read, and the same
/// computed by SQL from the stored events alone (the way schema migration 3 first filled them). Equal means every
/// stored event is counted once in every rollup, whatever commits, folds and crashes came before.
/// </summary>
public static class RollupAudit
{
    private const string Context = "FROM events e, json_each(e.json, '$.context') c WHERE c.type = 'text'";

    private static readonly (string Table, string Stored, string Expected)[] Tables =
    [
        ("event_counts",
            "SELECT type, priority, count, first_ticks, last_ticks FROM event_counts",
            "SELECT type, priority, COUNT(*), MIN(timestamp_ticks), MAX(timestamp_ticks) FROM events GROUP BY 1, 2"),
        ("event_minutes",
            "SELECT minute, type, priority, count FROM event_minutes",
            "SELECT timestamp_ticks / 600000000, type, priority, COUNT(*) FROM events GROUP BY 1, 2, 3"),
        ("event_context",
            "SELECT key, value, ticks, seq FROM event_context",
            $"SELECT c.key, c.value, e.timestamp_ticks, e.seq {Context}"),
        ("context_minutes",
            "SELECT key, value, minute, type, count FROM context_minutes",
            $"SELECT c.key, c.value, e.timestamp_ticks / 600000000, e.type, COUNT(*) {Context} GROUP BY 1, 2, 3, 4"),
        ("context_value_minutes",
            "SELECT key, value, minute FROM context_value_minutes",
            $"SELECT DISTINCT c.key, c.value, e.timestamp_ticks / 600000000 {Context}"),
        ("context_value_types",
            "SELECT key, value, type, count FROM context_value_types",
            $"SELECT c.key, c.value, e.type, COUNT(*) {Context} GROUP BY 1, 2, 3"),
        ("context_values",
            "SELECT key, value, events, first_ticks, last_ticks, active_minutes FROM context_values",
            $"SELECT c.key, c.value, COUNT(*), MIN(e.timestamp_ticks), MAX(e.timestamp_ticks), COUNT(DISTINCT e.timestamp_ticks / 600000000) {Context} GROUP BY 1, 2"),
    ];

    /// <summary>Asserts that every rollup table of the file matches its stored events, row for row.</summary>
    /// <param name="path">The SQLite file (read behind the store's back).</param>
    public static void AssertExact(string path)
    {
        using SqliteConnection connection = Open(path);
        foreach ((string table, string stored, string expected) in Tables)
        {
            List<string> want = Rows(connection, expected), have = Rows(connection, stored);
            Assert.True(want.Count > 0 || table == "event_context", $"{table}: the test stored no events it covers");
            string[] missing = [.. want.Except(have).Take(3)], extra = [.. have.Except(want).Take(3)];
            Assert.True(
                want.SequenceEqual(have),
                $"{table}: {have.Count} rows stored, {want.Count} expected; expected but not stored: {string.Join("; ", missing)}; stored but not expected: {string.Join("; ", extra)}");
        }
    }

    /// <summary>The store's rollup file (the events file's path with <c>-rollups</c> appended).</summary>
    public static string RollupPath(string path) => path + "-rollups";

    /// <summary>The seq through which the rollup totals are complete (<c>rollup_mark</c>, in the rollup file).</summary>
    public static long Mark(string path) => Scalar(path, "SELECT through_seq FROM rollup_mark;");

    /// <summary>The largest seq stored.</summary>
    public static long LastSeq(string path) => Scalar(path, "SELECT COALESCE(MAX(seq), 0) FROM events;");

    /// <summary>A number read from the file behind the store's back.</summary>
    public static long Scalar(string path, string sql)
    {
        using SqliteConnection connection = Open(path);
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() is long value ? value : 0;
    }

    /// <summary>Runs SQL on the file behind the store's back (a trigger that makes its writes fail, say).</summary>
    public static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static SqliteConnection Open(string path)
    {
        // Not pooled: the file is deleted or reopened by a store right after, and a pooled handle would keep it open.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        if (File.Exists(RollupPath(path)))
        {
            // Attached, the rollup tables are named as in the store's dashboard queries (ATTACH would create a missing file).
            using SqliteCommand attach = connection.CreateCommand();
            attach.CommandText = "ATTACH DATABASE $path AS rollups;";
            attach.Parameters.AddWithValue("$path", RollupPath(path));
            attach.ExecuteNonQuery();
        }

        return connection;
    }

    private static List<string> Rows(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        var rows = new List<string>();
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            var fields = new string[reader.FieldCount];
            for (int i = 0; i < fields.Length; i++)
            {
                fields[i] = Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)!;
            }

            rows.Add(string.Join('|', fields));
        }

        rows.Sort(StringComparer.Ordinal);
        return rows;
    }
}
