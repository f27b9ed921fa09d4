using System.Text;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>The writer's statement on a real SQLite file: what it binds, and the lifetime of the native handles it calls with.</summary>
public sealed class RawStatementTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("instrumentation-raw-").FullName;

    private string ConnectionString => $"Data Source={Path.Combine(_folder, "raw.db")};Pooling=False";

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void The_connection_closing_first_leaves_the_statement_usable_and_the_handle_closes_when_the_statement_is_disposed()
    {
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "CREATE TABLE t (x INTEGER NOT NULL);");
        Assert.Equal("e_sqlite3", SQLitePCL.raw.GetNativeLibraryName()); // the calls go to the library directly
        SQLitePCL.sqlite3 handle = connection.Handle!;
        var statement = new RawStatement(connection, "INSERT INTO t (x) VALUES (?1);");

        connection.Close(); // disposes its handle: the statement's reference keeps the native connection open
        Assert.False(handle.IsClosed);
        statement.Bind(1, 7);
        Assert.Equal(1, statement.Execute());

        statement.Dispose();
        Assert.True(handle.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => statement.Execute());
        statement.Dispose(); // twice is fine

        connection.Open();
        Assert.Equal(7L, Scalar(connection, "SELECT x FROM t;"));
    }

    [Fact]
    public void Texts_of_any_length_and_a_cached_string_after_a_span_at_its_index_are_bound_as_given()
    {
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "CREATE TABLE t (n INTEGER NOT NULL, a TEXT, b BLOB);");
        using (var statement = new RawStatement(connection, "INSERT INTO t (n, a, b) VALUES (?1, ?2, ?3);"))
        {
            string large = new('é', 10_000); // 20,000 bytes: bound with the GC transition
            Row(statement, 1, "type", [1, 2]);
            Row(statement, 2, "type", new byte[5000]); // the same string again: not rebound, still bound
            statement.Bind(2, "other"u8); // a span at the cached string's index...
            statement.Bind(1, 3);
            statement.BindBlob(3, []);
            statement.Execute();
            Row(statement, 4, "type", [3]); // ...so the equal string must be bound again
            Row(statement, 5, large, [4]);
            Row(statement, 6, "", [5]);
        }

        Assert.Equal("1:type:2|2:type:5000|3:other:0|4:type:1|5:20000:1|6::1", Scalar(connection, """
            SELECT group_concat(n || ':' || CASE WHEN length(a) > 100 THEN length(CAST(a AS BLOB)) ELSE a END || ':' || length(b), '|')
            FROM (SELECT * FROM t ORDER BY n);
            """));
        Assert.Equal(0L, Scalar(connection, "SELECT count(*) FROM t WHERE a IS NULL OR b IS NULL;"));
        Assert.Equal(new string('é', 10_000), Scalar(connection, "SELECT a FROM t WHERE n = 5;"));
    }

    private static void Row(RawStatement statement, long n, string a, byte[] b)
    {
        statement.Bind(1, n);
        statement.Bind(2, a);
        statement.BindBlob(3, b);
        Assert.Equal(1, statement.Execute());
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
