using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// A statement prepared once on the writer's connection and run through SQLite's C API directly: values are bound as
/// UTF-8 spans, bytes and integers, then the statement is stepped and reset. This is the per-event path of the single writer,
/// where a <see cref="SqliteCommand"/> execution per row (parameter objects, UTF-16 → UTF-8 conversion, a reader per
/// call) cost more than SQLite's own insert.
/// </summary>
/// <remarks>
/// The statement is prepared through SQLitePCL.raw, which owns its handle (finalized by <see cref="Dispose"/>), but the
/// calls per row go straight to the native library SQLitePCL loads (<c>e_sqlite3</c>, the one Microsoft.Data.Sqlite
/// ships) with the raw pointers: SQLitePCL's own calls take a reference on each SafeHandle and release it around every
/// call (two atomic operations each, ten calls per event), which profiling showed as the largest managed cost of
/// the writer. The pointers stay valid while this object holds the handles; only the writer's thread uses it.
/// </remarks>
internal sealed class RawStatement : IDisposable
{
    private const string Library = "e_sqlite3";

    /// <summary><c>SQLITE_TRANSIENT</c>: SQLite copies a bound text before the call returns (the span may move or be reused).</summary>
    private static readonly nint Transient = -1;

    private static readonly byte[] EmptyText = [0];

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly nint _dbPointer;
    private readonly nint _statementPointer;
    private readonly byte[] _scratch = new byte[1024];

    // The string bound to each parameter (by index), while it stays bound: SQLite keeps a statement's bindings across
    // runs, so binding an equal string again (a type, a priority, a context key and value, repeated row after row) is
    // skipped, transcoding and copying included.
    private readonly string?[] _boundStrings = new string?[16];

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        int rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, _db);
        _dbPointer = _db.DangerousGetHandle();
        _statementPointer = _statement.DangerousGetHandle();
    }

    public void Bind(int index, ReadOnlySpan<byte> utf8)
    {
        Forget(index);
        // A null pointer would bind NULL, not an empty text.
        ref byte text = ref utf8.IsEmpty ? ref EmptyText[0] : ref MemoryMarshal.GetReference(utf8);
        Check(NativeMethods.sqlite3_bind_text(_statementPointer, index, ref text, utf8.Length, Transient));
    }

    public void BindBlob(int index, ReadOnlySpan<byte> bytes)
    {
        Forget(index);
        ref byte first = ref bytes.IsEmpty ? ref EmptyText[0] : ref MemoryMarshal.GetReference(bytes);
        Check(NativeMethods.sqlite3_bind_blob(_statementPointer, index, ref first, bytes.Length, Transient));
    }

    public void Bind(int index, long value)
    {
        Forget(index);
        Check(NativeMethods.sqlite3_bind_int64(_statementPointer, index, value));
    }

    /// <summary>
    /// Binds a string, transcoded into a reused buffer (no allocation for strings of up to 256 characters); a string equal
    /// to the one already bound there is not bound again.
    /// </summary>
    public void Bind(int index, string value)
    {
        if ((uint)index < (uint)_boundStrings.Length && string.Equals(_boundStrings[index], value, StringComparison.Ordinal))
        {
            return;
        }

        BindText(index, value);
        if ((uint)index < (uint)_boundStrings.Length)
        {
            _boundStrings[index] = value; // after the bind: one that failed leaves nothing remembered
        }
    }

    private void BindText(int index, string value)
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
        int rc = NativeMethods.sqlite3_step(_statementPointer);
        NativeMethods.sqlite3_reset(_statementPointer);
        if (rc != raw.SQLITE_DONE)
        {
            // The error is the connection's until its next call: read it through SQLitePCL's handle for the message.
            SqliteException.ThrowExceptionForRC(rc, _db);
            throw new InvalidOperationException($"SQLite returned {rc} where a statement without rows was expected.");
        }

        return NativeMethods.sqlite3_changes(_dbPointer);
    }

    public void Dispose() => _statement.Dispose();

    private void Forget(int index)
    {
        if ((uint)index < (uint)_boundStrings.Length)
        {
            _boundStrings[index] = null;
        }
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    /// <summary>
    /// The few C functions of the per-row path. Binding, resetting and the change count neither block nor call back, so
    /// they skip the GC transition; stepping does I/O and keeps it.
    /// </summary>
    private static class NativeMethods
    {
        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_bind_text(nint statement, int index, ref byte text, int length, nint destructor);

        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_bind_blob(nint statement, int index, ref byte bytes, int length, nint destructor);

        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_bind_int64(nint statement, int index, long value);

        [DllImport(Library, ExactSpelling = true)]
        public static extern int sqlite3_step(nint statement);

        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_reset(nint statement);

        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_changes(nint db);
    }
}
