using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// A statement prepared once on the writer's connection and run through SQLitePCL.raw: values are bound as UTF-8 spans
/// and integers, then the statement is stepped and reset. This is the per-event path of the single writer, where a
/// <see cref="SqliteCommand"/> execution per row (parameter objects, UTF-16 → UTF-8 conversion, a reader per call) cost
/// more than SQLite's own insert.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly byte[] _scratch = new byte[1024];

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        int rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Bind(int index, ReadOnlySpan<byte> utf8) => Check(raw.sqlite3_bind_text(_statement, index, utf8));

    public void Bind(int index, long value) => Check(raw.sqlite3_bind_int64(_statement, index, value));

    /// <summary>Binds a string, transcoded into a reused buffer (no allocation for strings of up to 256 characters).</summary>
    public void Bind(int index, string value)
    {
        int most = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (most <= _scratch.Length)
        {
            int length = Encoding.UTF8.GetBytes(value, _scratch);
            Bind(index, _scratch.AsSpan(0, length));
        }
        else
        {
            Bind(index, Encoding.UTF8.GetBytes(value));
        }
    }

    /// <summary>Runs the statement (one that returns no rows) and resets it for the next run; its bindings stay.</summary>
    /// <returns>The rows it changed.</returns>
    public int Execute()
    {
        int rc = raw.sqlite3_step(_statement);
        raw.sqlite3_reset(_statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
            throw new InvalidOperationException($"SQLite returned {rc} where a statement without rows was expected.");
        }

        return raw.sqlite3_changes(_db);
    }

    /// <summary>The rowid of the row the last successful insert on this connection added (an <c>INTEGER PRIMARY KEY</c> column's value).</summary>
    public long LastInsertRowId => raw.sqlite3_last_insert_rowid(_db);

    public void Dispose() => _statement.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }
}
