using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The file that holds the SQLite store's dashboard rollups, beside the events file (its path with <c>-rollups</c>
/// appended): the tables of <see cref="Rollups.DashboardRollup"/>, and the seq of the events file through which they are
/// complete (<c>rollup_mark</c>). Everything in it is derived from the events file, so it is a cache that can be lost:
/// <see cref="Open"/> empties it (and <see cref="SqliteFoldWriter"/> then recomputes it from the stored events) when it
/// is missing, unreadable, of another layout version, made for another events file, or ahead of the events file.
/// </summary>
/// <remarks>
/// It is written with <c>synchronous=NORMAL</c>: a fold is not flushed to disk before it returns. A power cut may then
/// lose the last folds, never leave half of one (the write-ahead log holds whole transactions, and each fold moves the
/// mark in its own), and what was lost is above the mark, so it is recomputed at the next start. The uploads' own
/// durability is the events file's, which stays <c>synchronous=FULL</c>.
/// </remarks>
internal static class SqliteRollupFile
{
    /// <summary>The layout of the file; another version is emptied and rebuilt, not migrated.</summary>
    private const int Version = 1;

    private const string Tables = """
        CREATE TABLE event_minutes (
            minute INTEGER NOT NULL, type TEXT NOT NULL, priority TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (minute, type, priority)
        ) WITHOUT ROWID;
        CREATE TABLE event_context (
            key TEXT NOT NULL, value TEXT NOT NULL, ticks INTEGER NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (key, value, ticks, seq)
        ) WITHOUT ROWID;
        CREATE TABLE context_minutes (
            key TEXT NOT NULL, value TEXT NOT NULL, minute INTEGER NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (key, value, minute, type)
        ) WITHOUT ROWID;
        CREATE TABLE context_value_minutes (
            key TEXT NOT NULL, value TEXT NOT NULL, minute INTEGER NOT NULL,
            PRIMARY KEY (key, value, minute)
        ) WITHOUT ROWID;
        CREATE TABLE context_value_types (
            key TEXT NOT NULL, value TEXT NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (key, value, type)
        ) WITHOUT ROWID;
        CREATE TABLE context_values (
            key TEXT NOT NULL, value TEXT NOT NULL, events INTEGER NOT NULL, first_ticks INTEGER NOT NULL, last_ticks INTEGER NOT NULL, active_minutes INTEGER NOT NULL,
            PRIMARY KEY (key, value)
        ) WITHOUT ROWID;
        CREATE TABLE rollup_mark (id INTEGER PRIMARY KEY CHECK (id = 1), through_seq INTEGER NOT NULL);
        CREATE TABLE rollup_source (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, store_id TEXT NOT NULL);
        """;

    private static readonly string[] TableNames =
        ["event_minutes", "event_context", "context_minutes", "context_value_minutes", "context_value_types", "context_values", "rollup_mark", "rollup_source"];

    /// <summary>The rollup file of the events file at <paramref name="databasePath"/>.</summary>
    public static string PathFor(string databasePath) => databasePath + "-rollups";

    /// <summary>
    /// Opens the rollup file for the fold writer, emptying it first unless it holds the rollups of this events file
    /// (<paramref name="storeId"/>) through a seq no higher than <paramref name="storeLastSeq"/>.
    /// </summary>
    /// <param name="path">The rollup file.</param>
    /// <param name="storeId">The events file's <c>store_identity</c>.</param>
    /// <param name="storeLastSeq">The largest seq in the events file when its writer started.</param>
    /// <returns>
    /// The connection (WAL, <c>synchronous=NORMAL</c>), and the error that showed the file damaged or not a database when
    /// it was deleted and made anew (null otherwise: the caller tells it). The seq through which the file is complete is
    /// its <c>rollup_mark</c>, which the read-back reads in its own transaction.
    /// </returns>
    public static (SqliteConnection Connection, SqliteException? Discarded) Open(string path, string storeId, long storeLastSeq)
    {
        try
        {
            return (OpenOrReset(path, storeId, storeLastSeq), null);
        }
        catch (SqliteException exception) when (IsDamaged(exception))
        {
            // Not a database, or a damaged one: it holds nothing the events file cannot give again.
            Discard(path);
            try
            {
                return (OpenOrReset(path, storeId, storeLastSeq), exception);
            }
            catch (SqliteException again)
            {
                throw OpenFailure(path, again); // not caught by the clause below: the new file's failure, named as well
            }
        }
        catch (SqliteException exception)
        {
            // A read-only file or directory, a full disk: SQLite's message names neither the file nor why there is one.
            throw OpenFailure(path, exception);
        }
    }

    /// <summary>
    /// The error of a rollup file that could not be opened for writing: SQLite's message, with the file's name, why it is
    /// there and what to do, and SQLite's error codes kept (a store failure, which the collector answers 503).
    /// </summary>
    internal static SqliteException OpenFailure(string path, SqliteException exception)
    {
        string remedy = exception.SqliteErrorCode switch
        {
            5 or 6 => "Another program holds it locked (SQLITE_BUSY, SQLITE_LOCKED): only the collector may write it; reading it is fine.",
            13 => "Its disk is full (SQLITE_FULL): make room there.",
            _ => "Its directory and the file must be writable.",
        };
        return new SqliteException(
            $"The rollup file '{path}', where the collector keeps the dashboard's rollups beside the database, could not be opened for writing: {exception.Message} {remedy} See docs/configuration.md, \"The rollup file\".",
            exception.SqliteErrorCode,
            exception.SqliteExtendedErrorCode);
    }

    /// <summary>Whether <paramref name="exception"/> says the file is not a database or is damaged (SQLITE_CORRUPT, SQLITE_NOTADB).</summary>
    public static bool IsDamaged(SqliteException exception) => exception.SqliteErrorCode is 11 or 26;

    /// <summary>Whether the rollup file open on <paramref name="connection"/> passes <c>PRAGMA quick_check</c>.</summary>
    public static bool IsIntact(SqliteConnection connection)
    {
        try
        {
            using SqliteCommand check = connection.CreateCommand();
            check.CommandText = "PRAGMA quick_check(1);";
            return check.ExecuteScalar() as string == "ok";
        }
        catch (SqliteException exception) when (IsDamaged(exception))
        {
            return false;
        }
    }

    /// <summary>
    /// Deletes the rollup file (and its <c>-wal</c> and <c>-shm</c>), closed by its writer, so that the next
    /// <see cref="Open"/> makes a new one. The pooled reader connections that attached it are cleared first: they would
    /// go on reading the deleted file.
    /// </summary>
    public static void Discard(string path)
    {
        SqliteConnection.ClearAllPools();
        // The write-ahead log first: a process killed between the deletes must not leave an old log beside a new file,
        // which SQLite would replay into it (the old file's pages back). A file left without its log is just older.
        foreach (string file in new[] { path + "-wal", path + "-shm", path })
        {
            File.Delete(file);
        }

        // Again: a dashboard read may have attached the old file between the first clear and the deletes.
        SqliteConnection.ClearAllPools();
    }

    private static SqliteConnection OpenOrReset(string path, string storeId, long storeLastSeq)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 30 }.ToString());
        try
        {
            connection.Open();
            SqliteSchema.Execute(connection, null, $"PRAGMA page_size={SqliteSchema.PageSize}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;");
            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            if (!Matches(connection, transaction, storeId, storeLastSeq))
            {
                foreach (string table in TableNames)
                {
                    SqliteSchema.Execute(connection, transaction, $"DROP TABLE IF EXISTS {table};");
                }

                SqliteSchema.Execute(connection, transaction, Tables);
                using SqliteCommand source = connection.CreateCommand();
                source.Transaction = transaction;
                source.CommandText = "INSERT INTO rollup_mark (id, through_seq) VALUES (1, 0); INSERT INTO rollup_source (id, version, store_id) VALUES (1, $version, $store);";
                source.Parameters.AddWithValue("$version", Version);
                source.Parameters.AddWithValue("$store", storeId);
                source.ExecuteNonQuery();
            }

            transaction.Commit();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Whether the file holds this events file's rollups in this layout, no further than its last seq.</summary>
    private static bool Matches(SqliteConnection connection, SqliteTransaction transaction, string storeId, long storeLastSeq)
    {
        using SqliteCommand read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('rollup_source', 'rollup_mark');";
        if ((long)read.ExecuteScalar()! != 2)
        {
            return false;
        }

        read.CommandText = "SELECT s.version, s.store_id, m.through_seq FROM rollup_source s, rollup_mark m;";
        using SqliteDataReader reader = read.ExecuteReader();
        if (!reader.Read() || reader.IsDBNull(0) || reader.IsDBNull(1) || reader.IsDBNull(2))
        {
            return false;
        }

        // Ahead of the events file: rows were deleted from its end, or an older copy of it was put back. The sums would
        // count events that are gone, and the next events would get seqs the index already names.
        return reader.GetInt64(0) == Version && reader.GetString(1) == storeId && reader.GetInt64(2) <= storeLastSeq;
    }
}
