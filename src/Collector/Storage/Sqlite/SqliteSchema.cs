using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The SQLite schema, as numbered migrations. <c>schema_version</c> holds the version a database is at; each migration
/// runs in the same transaction as its version bump, under <c>BEGIN IMMEDIATE</c>, so two processes opening one file
/// cannot both apply it.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>Migration n (1-based) brings a database from version n-1 to n.</summary>
    private static readonly string[] Migrations =
    [
        // 1: the events. Identical to the table of collectors before versioning, so their files are adopted as they are.
        """
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            priority TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            timestamp_ticks INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            json TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp_ticks, seq);
        CREATE INDEX IF NOT EXISTS events_by_type_time ON events (type, timestamp_ticks, seq);
        """,

        // 2: counts per type and priority, kept in the transaction that adds the events (statistics without a scan).
        """
        CREATE TABLE event_counts (
            type TEXT NOT NULL,
            priority TEXT NOT NULL,
            count INTEGER NOT NULL,
            first_ticks INTEGER NOT NULL,
            last_ticks INTEGER NOT NULL,
            PRIMARY KEY (type, priority)
        ) WITHOUT ROWID;
        INSERT INTO event_counts (type, priority, count, first_ticks, last_ticks)
            SELECT type, priority, COUNT(*), MIN(timestamp_ticks), MAX(timestamp_ticks) FROM events GROUP BY type, priority;
        """,

        // 3: the dashboard's rollups, kept by the writer in the transaction that adds the events (Rollups/DashboardRollup):
        // events per minute (600,000,000 ticks), type and priority; the context index (one row per string field of an
        // event's context); events per context field, value, minute and type; and per context field and value, all-time
        // totals (events, first, last, active minutes) and events per type. Filled from the events already stored.
        """
        CREATE TABLE event_minutes (
            minute INTEGER NOT NULL, type TEXT NOT NULL, priority TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (minute, type, priority)
        ) WITHOUT ROWID;
        CREATE TABLE event_context (
            key TEXT NOT NULL, value TEXT NOT NULL, ticks INTEGER NOT NULL, id TEXT NOT NULL,
            PRIMARY KEY (key, value, ticks, id)
        ) WITHOUT ROWID;
        CREATE TABLE context_minutes (
            key TEXT NOT NULL, value TEXT NOT NULL, minute INTEGER NOT NULL, type TEXT NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (key, value, minute, type)
        ) WITHOUT ROWID;
        INSERT INTO event_minutes (minute, type, priority, count)
            SELECT timestamp_ticks / 600000000, type, priority, COUNT(*) FROM events GROUP BY 1, 2, 3;
        INSERT OR IGNORE INTO event_context (key, value, ticks, id)
            SELECT c.key, c.value, e.timestamp_ticks, e.id FROM events e, json_each(e.json, '$.context') c WHERE c.type = 'text';
        INSERT INTO context_minutes (key, value, minute, type, count)
            SELECT key, value, ticks / 600000000, type, COUNT(*) FROM (
                SELECT DISTINCT c.key AS key, c.value AS value, e.timestamp_ticks AS ticks, e.type AS type, e.seq AS seq
                FROM events e, json_each(e.json, '$.context') c WHERE c.type = 'text')
            GROUP BY 1, 2, 3, 4;
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
        INSERT INTO context_value_minutes (key, value, minute) SELECT DISTINCT key, value, minute FROM context_minutes;
        INSERT INTO context_value_types (key, value, type, count) SELECT key, value, type, SUM(count) FROM context_minutes GROUP BY 1, 2, 3;
        INSERT INTO context_values (key, value, events, first_ticks, last_ticks, active_minutes)
            SELECT c.key, c.value, COUNT(*), MIN(c.ticks), MAX(c.ticks),
                   (SELECT COUNT(*) FROM context_value_minutes m WHERE m.key = c.key AND m.value = c.value)
            FROM event_context c GROUP BY c.key, c.value;
        """,

        // 4: the context index keyed by the event's seq (its rowid) instead of its id: an integer where the id was 36
        // bytes of text, in every index entry, and the explorer finds the event by its primary key. Every row is kept, its
        // seq looked up by id (a row whose event was deleted from events, which the explorer's join never showed, is dropped).
        """
        CREATE TABLE event_context_by_seq (
            key TEXT NOT NULL, value TEXT NOT NULL, ticks INTEGER NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (key, value, ticks, seq)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO event_context_by_seq (key, value, ticks, seq)
            SELECT c.key, c.value, c.ticks, e.seq FROM event_context c JOIN events e ON e.id = c.id;
        DROP TABLE event_context;
        ALTER TABLE event_context_by_seq RENAME TO event_context;
        """,

        // 5: the seq through which the rollup tables (the context index included) are complete. The writer keeps the rows and
        // sums of many commits in memory and writes them in one go, moving this mark in that transaction; at start the events
        // above it are rolled up from their JSON (SqliteRollupFolder). Events stored before this version were rolled up
        // in their own commits, so the mark starts at the last of them.
        """
        CREATE TABLE rollup_mark (id INTEGER PRIMARY KEY CHECK (id = 1), through_seq INTEGER NOT NULL);
        INSERT INTO rollup_mark (id, through_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;
        """,

        // 6: seq without AUTOINCREMENT and the id as its 16 bytes, every row and its seq kept. AUTOINCREMENT made each
        // insert read and rewrite sqlite_sequence (about a tenth of the single writer's time per event); the writer now
        // gives each event its seq itself, one above the largest stored seq and the rollup mark (SqliteEventStore). The
        // id's 36 bytes of text were the largest part of every entry of its unique index; as bytes in RFC 9562 order they
        // sort as the text did. A stored id that is not a canonical UUID, lower-case 8-4-4-4-12 hex (none should be: the
        // collector writes ids that way), keeps its text's bytes, so no row is lost and none collides with another: an
        // upper-case copy of a stored id was a distinct row as text and must not become the same 16 bytes.
        // A seq above the largest stored one and the mark may now be given again (AUTOINCREMENT never did): a context
        // index row left for such a seq (an event deleted by hand after versions 3 and 4 wrote its row in its own commit)
        // would attach its key and value to the new event that gets the seq, so those rows are dropped; the explorer's
        // join never showed them.
        """
        CREATE TABLE events_by_seq (
            seq INTEGER PRIMARY KEY,
            id BLOB NOT NULL UNIQUE,
            type TEXT NOT NULL,
            priority TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            timestamp_ticks INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            json TEXT NOT NULL
        );
        INSERT INTO events_by_seq (seq, id, type, priority, timestamp, timestamp_ticks, received_at, json)
            SELECT seq,
                   CASE WHEN length(id) = 36 AND id = lower(id)
                             AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-' AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-'
                             AND length(unhex(replace(id, '-', ''))) = 16
                        THEN unhex(replace(id, '-', '')) ELSE CAST(id AS BLOB) END,
                   type, priority, timestamp, timestamp_ticks, received_at, json
            FROM events ORDER BY seq;
        DROP TABLE events;
        ALTER TABLE events_by_seq RENAME TO events;
        CREATE INDEX events_by_time ON events (timestamp_ticks, seq);
        CREATE INDEX events_by_type_time ON events (type, timestamp_ticks, seq);
        DELETE FROM event_context WHERE seq > (SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0), through_seq) FROM rollup_mark);
        """,

        // 7: the dashboard's rollups move to a file of their own (SqliteRollupFile), written by a second writer beside the
        // events' (SqliteFoldWriter): a fold no longer holds the events' write lock, and the two files are written on two
        // threads. That file is rebuilt from the stored events when it is missing or belongs to another events file, which
        // this file's random store_id tells; an upgraded file starts without one, so its rollups are recomputed once, at
        // the first start of this version.
        """
        DROP TABLE event_minutes;
        DROP TABLE event_context;
        DROP TABLE context_minutes;
        DROP TABLE context_value_minutes;
        DROP TABLE context_value_types;
        DROP TABLE context_values;
        DROP TABLE rollup_mark;
        CREATE TABLE store_identity (id INTEGER PRIMARY KEY CHECK (id = 1), store_id TEXT NOT NULL);
        INSERT INTO store_identity (id, store_id) VALUES (1, lower(hex(randomblob(16))));
        """,
    ];

    /// <summary>The page size of a database file this collector creates.</summary>
    public const int PageSize = 8192;

    /// <summary>The version this collector writes.</summary>
    public static int CurrentVersion => Migrations.Length;

    public static void Migrate(SqliteConnection connection) => Migrate(connection, CurrentVersion);

    /// <summary>Brings the database to <paramref name="targetVersion"/> (tests build older databases with it).</summary>
    internal static void Migrate(SqliteConnection connection, int targetVersion)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetVersion, CurrentVersion);
        // 8 KiB pages for a new file (an existing file keeps its own): a commit of a few thousand events writes half as many
        // log frames as with SQLite's default 4 KiB, while a small commit, which rewrites the last page of every table and
        // index it touches, does not write much more. Measured: 4, 8 and 16 KiB at batches of 50 and 1,000 (docs/benchmarks.md).
        Execute(connection, null, $"PRAGMA page_size={PageSize}; PRAGMA journal_mode=WAL;");
        using SqliteTransaction transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);");
        using SqliteCommand read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT MAX(version) FROM schema_version;";
        object? value = read.ExecuteScalar();
        int version = value is long stored ? (int)stored : 0;
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The SQLite database '{connection.DataSource}' has schema version {version}, newer than the {CurrentVersion} this collector knows. Run a newer collector, or point it at another file.");
        }

        for (int next = version + 1; next <= targetVersion; next++)
        {
            Execute(connection, transaction, Migrations[next - 1]);
        }

        if (version < targetVersion)
        {
            Execute(connection, transaction, $"DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES ({targetVersion});");
        }

        transaction.Commit();
        if (version < targetVersion)
        {
            // A migration that rewrote a table (6 copies events) wrote all of it to the write-ahead log, which SQLite
            // reuses but never shrinks: without this the -wal file would keep that size on disk for good.
            transaction.Dispose();
            Execute(connection, null, "PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }

    /// <summary>Runs <paramref name="sql"/> (statements that return nothing) on <paramref name="connection"/>.</summary>
    internal static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
