using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>Statements the single writer runs for every commit, created once on its connection.</summary>
internal static class SqliteStatements
{
    /// <summary>
    /// Creates <paramref name="sql"/> on <paramref name="connection"/> with its parameters declared and typed, so that each
    /// run only sets values (Microsoft.Data.Sqlite then reuses the prepared statement).
    /// </summary>
    public static SqliteCommand Create(SqliteConnection connection, string sql, params ReadOnlySpan<(string Name, SqliteType Type)> parameters)
    {
        SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        foreach ((string name, SqliteType type) in parameters)
        {
            command.Parameters.Add(name, type);
        }

        return command;
    }
}
