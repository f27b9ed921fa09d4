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
/// the writer. This object takes one reference on each handle instead, for its lifetime, so the pointers stay valid
/// until <see cref="Dispose"/> even if the connection closes its handle first. Only the writer loop uses it, one call
/// at a time, so the connection's mutex (SQLite's serialized mode) is never contended. When SQLitePCL was given
/// another provider than <c>e_sqlite3</c> (a host's choice), the calls go through SQLitePCL: its handles are not
/// that library's.
/// </remarks>
internal sealed class RawStatement : IDisposable
{
    private const string Library = "e_sqlite3";

    /// <summary><c>SQLITE_TRANSIENT</c>: SQLite copies a bound text before the call returns (the span may move or be reused).</summary>
    private static readonly nint Transient = -1;

    private static readonly byte[] EmptyText = [0];

    /// <summary>
    /// Binds of more bytes than this (an event's JSON) keep the GC transition: SQLite copies them into memory it
    /// allocates, which may take a system call and more than the microsecond a call without the transition may hold
    /// up a garbage collection of every thread.
    /// </summary>
    private const int MostBytesWithoutTransition = 4096;

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly nint _dbPointer;
    private readonly nint _statementPointer;
    private readonly byte[] _scratch = new byte[1024];
    private readonly bool _direct; // SQLitePCL runs on the library this class calls (read once a connection is open: its provider is set)
    private bool _disposed;

    // The string bound to each parameter (by index), while it stays bound: SQLite keeps a statement's bindings across
    // runs, so binding an equal string again (a type, a priority, a context key and value, repeated row after row) is
    // skipped, transcoding and copying included.
    private readonly string?[] _boundStrings = new string?[16];

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        _direct = string.Equals(raw.GetNativeLibraryName(), Library, StringComparison.Ordinal);
        int rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        if (rc != raw.SQLITE_OK)
        {
            _statement.Dispose();
            SqliteException.ThrowExceptionForRC(rc, _db);
        }

        // Released by Dispose: until then neither handle is released, whoever disposes it.
        bool dbReferenced = false, statementReferenced = false;
        try
        {
            _db.DangerousAddRef(ref dbReferenced);
            _statement.DangerousAddRef(ref statementReferenced);
        }
        catch
        {
            if (dbReferenced)
            {
                _db.DangerousRelease();
            }

            _statement.Dispose();
            throw;
        }

        _dbPointer = _db.DangerousGetHandle();
        _statementPointer = _statement.DangerousGetHandle();
    }

    public void Bind(int index, ReadOnlySpan<byte> utf8)
    {
        Forget(index);
        // A null pointer would bind NULL, not an empty text.
        ref byte text = ref utf8.IsEmpty ? ref EmptyText[0] : ref MemoryMarshal.GetReference(utf8);
        Check(!_direct ? raw.sqlite3_bind_text(_statement, index, utf8)
            : utf8.Length <= MostBytesWithoutTransition ? NativeMethods.sqlite3_bind_text(_statementPointer, index, ref text, utf8.Length, Transient)
            : NativeMethods.sqlite3_bind_text_long(_statementPointer, index, ref text, utf8.Length, Transient));
    }

    public void BindBlob(int index, ReadOnlySpan<byte> bytes)
    {
        Forget(index);
        ref byte first = ref bytes.IsEmpty ? ref EmptyText[0] : ref MemoryMarshal.GetReference(bytes);
        Check(!_direct ? raw.sqlite3_bind_blob(_statement, index, bytes)
            : bytes.Length <= MostBytesWithoutTransition ? NativeMethods.sqlite3_bind_blob(_statementPointer, index, ref first, bytes.Length, Transient)
            : NativeMethods.sqlite3_bind_blob_long(_statementPointer, index, ref first, bytes.Length, Transient));
    }

    public void Bind(int index, long value)
    {
        Forget(index);
        Check(_direct ? NativeMethods.sqlite3_bind_int64(_statementPointer, index, value) : raw.sqlite3_bind_int64(_statement, index, value));
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
        ObjectDisposedException.ThrowIf(_disposed, this);
        int rc = _direct ? NativeMethods.sqlite3_step(_statementPointer) : raw.sqlite3_step(_statement);
        _ = _direct ? NativeMethods.sqlite3_reset(_statementPointer) : raw.sqlite3_reset(_statement);
        if (rc != raw.SQLITE_DONE)
        {
            // The error is the connection's until its next call: read it through SQLitePCL's handle for the message.
            SqliteException.ThrowExceptionForRC(rc, _db);
            throw new InvalidOperationException($"SQLite returned {rc} where a statement without rows was expected.");
        }

        return _direct ? NativeMethods.sqlite3_changes(_dbPointer) : raw.sqlite3_changes(_db);
    }

    /// <summary>Finalizes the statement and gives back the references on both handles (the connection's may then close).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _statement.DangerousRelease();
        _statement.Dispose();
        _db.DangerousRelease();
    }

    private void Forget(int index)
    {
        if ((uint)index < (uint)_boundStrings.Length)
        {
            _boundStrings[index] = null;
        }
    }

    private void Check(int rc)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    /// <summary>
    /// The few C functions of the per-row path. Binding a few bytes, resetting and the change count neither block nor
    /// call back (the connection's mutex is uncontended: only the writer loop uses it), so they skip the GC transition;
    /// stepping does I/O and keeps it, and so does binding many bytes.
    /// </summary>
    private static class NativeMethods
    {
        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_bind_text(nint statement, int index, ref byte text, int length, nint destructor);

        [DllImport(Library, ExactSpelling = true)]
        [SuppressGCTransition]
        public static extern int sqlite3_bind_blob(nint statement, int index, ref byte bytes, int length, nint destructor);

        [DllImport(Library, EntryPoint = "sqlite3_bind_text", ExactSpelling = true)]
        public static extern int sqlite3_bind_text_long(nint statement, int index, ref byte text, int length, nint destructor);

        [DllImport(Library, EntryPoint = "sqlite3_bind_blob", ExactSpelling = true)]
        public static extern int sqlite3_bind_blob_long(nint statement, int index, ref byte bytes, int length, nint destructor);

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
