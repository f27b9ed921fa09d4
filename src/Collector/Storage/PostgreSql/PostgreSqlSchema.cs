using Npgsql;

namespace Instrumentation.Collector.Storage.PostgreSql;

/// <summary>
/// The PostgreSQL schema, as numbered migrations. <c>instrumentation_schema</c> holds the version a database is at.
/// Every collector instance migrates at start; a transaction-scoped advisory lock makes the instances that start
/// together take turns, so each migration runs once, in the same transaction as its version bump.
/// </summary>
internal static class PostgreSqlSchema
{
    /// <summary>Any fixed number: the advisory lock the instances of this collector take while migrating.</summary>
    private const long MigrationLock = 0x496E_7374_4D69_6731; // "InstMig1"

    /// <summary>Migration n (1-based) brings a database from version n-1 to n.</summary>
    private static readonly string[] Migrations =
    [
        // 1: the events, and counts per type and priority kept in the transaction that adds the events.
        """
        CREATE TABLE events (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id uuid NOT NULL UNIQUE,
            type text NOT NULL,
            priority text NOT NULL,
            timestamp_ticks bigint NOT NULL,
            "timestamp" timestamptz NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            json text NOT NULL
        );
        CREATE INDEX events_by_time ON events (timestamp_ticks, seq);
        CREATE INDEX events_by_type_time ON events (type, timestamp_ticks, seq);
        CREATE TABLE event_counts (
            type text NOT NULL,
            priority text NOT NULL,
            count bigint NOT NULL,
            first_ticks bigint NOT NULL,
            last_ticks bigint NOT NULL,
            PRIMARY KEY (type, priority)
        );
        """,

        // 2: the dashboard's rollups, kept by the writer in the transaction that adds the events (Rollups/DashboardRollup):
        // events per minute (600,000,000 ticks), type and priority; the context index (one row per string field of an
        // event's context); events per context field, value, minute and type; and per context field and value, all-time
        // totals (events, first, last, active minutes) and events per type. Filled from the events already stored.
        """
        CREATE TABLE event_minutes (
            minute bigint NOT NULL, type text NOT NULL, priority text NOT NULL, count bigint NOT NULL,
            PRIMARY KEY (minute, type, priority)
        );
        CREATE TABLE event_context (
            key text NOT NULL, value text NOT NULL, ticks bigint NOT NULL, id uuid NOT NULL,
            PRIMARY KEY (key, value, ticks, id)
        );
        CREATE TABLE context_minutes (
            key text NOT NULL, value text NOT NULL, minute bigint NOT NULL, type text NOT NULL, count bigint NOT NULL,
            PRIMARY KEY (key, value, minute, type)
        );
        INSERT INTO event_minutes (minute, type, priority, count)
            SELECT timestamp_ticks / 600000000, type, priority, COUNT(*) FROM events GROUP BY 1, 2, 3;
        CREATE TEMPORARY TABLE backfill_context ON COMMIT DROP AS
            SELECT c.key, c.value #>> '{}' AS value, e.timestamp_ticks AS ticks, e.id, e.type
            FROM events e
            CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.json::jsonb -> 'context') = 'object' THEN e.json::jsonb -> 'context' ELSE '{}'::jsonb END) c
            WHERE jsonb_typeof(c.value) = 'string';
        INSERT INTO event_context (key, value, ticks, id) SELECT key, value, ticks, id FROM backfill_context ON CONFLICT DO NOTHING;
        INSERT INTO context_minutes (key, value, minute, type, count)
            SELECT key, value, ticks / 600000000, type, COUNT(*) FROM backfill_context GROUP BY 1, 2, 3, 4;
        CREATE TABLE context_value_minutes (
            key text NOT NULL, value text NOT NULL, minute bigint NOT NULL,
            PRIMARY KEY (key, value, minute)
        );
        CREATE TABLE context_value_types (
            key text NOT NULL, value text NOT NULL, type text NOT NULL, count bigint NOT NULL,
            PRIMARY KEY (key, value, type)
        );
        CREATE TABLE context_values (
            key text NOT NULL, value text NOT NULL, events bigint NOT NULL, first_ticks bigint NOT NULL, last_ticks bigint NOT NULL, active_minutes bigint NOT NULL,
            PRIMARY KEY (key, value)
        );
        INSERT INTO context_value_minutes (key, value, minute) SELECT DISTINCT key, value, minute FROM context_minutes;
        INSERT INTO context_value_types (key, value, type, count) SELECT key, value, type, SUM(count) FROM context_minutes GROUP BY 1, 2, 3;
        INSERT INTO context_values (key, value, events, first_ticks, last_ticks, active_minutes)
            SELECT c.key, c.value, COUNT(*), MIN(c.ticks), MAX(c.ticks),
                   (SELECT COUNT(*) FROM context_value_minutes m WHERE m.key = c.key AND m.value = c.value)
            FROM event_context c GROUP BY c.key, c.value;
        """,

        // 3: the context index keyed by the event's seq instead of its id (a fixed-width bigint where the uuid was; measured
        // ~25 % faster inserts at small commits), every row kept with its seq looked up by id (a row whose event was deleted
        // from events, which the explorer's join never showed, is dropped). And the text columns of every key the writer
        // maintains compare bytewise (COLLATE "C"): each insert compares keys all the way down every index it touches, and
        // under a linguistic collation each comparison goes through the locale (~13 % of the writer's time at small commits).
        // Orderings by these columns are then by code point, as SQLite's are (docs/configuration.md). Changing a column's
        // collation rebuilds the indexes on it, not the table. First the events table's lock, which every writer takes first
        // (its insert): an older instance's transaction still writing id-keyed rows commits before the copy below (otherwise
        // its rows would be copied too early and dropped with the old table), and none starts after.
        """
        LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
        CREATE TABLE event_context_by_seq (
            key text COLLATE "C" NOT NULL, value text COLLATE "C" NOT NULL, ticks bigint NOT NULL, seq bigint NOT NULL,
            PRIMARY KEY (key, value, ticks, seq)
        );
        INSERT INTO event_context_by_seq (key, value, ticks, seq)
            SELECT c.key, c.value, c.ticks, e.seq FROM event_context c JOIN events e ON e.id = c.id
            ON CONFLICT DO NOTHING;
        DROP TABLE event_context;
        ALTER TABLE event_context_by_seq RENAME TO event_context;
        ALTER INDEX event_context_by_seq_pkey RENAME TO event_context_pkey;
        ALTER TABLE events ALTER COLUMN type TYPE text COLLATE "C", ALTER COLUMN priority TYPE text COLLATE "C";
        ALTER TABLE event_counts ALTER COLUMN type TYPE text COLLATE "C", ALTER COLUMN priority TYPE text COLLATE "C";
        ALTER TABLE event_minutes ALTER COLUMN type TYPE text COLLATE "C", ALTER COLUMN priority TYPE text COLLATE "C";
        ALTER TABLE context_minutes ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN value TYPE text COLLATE "C", ALTER COLUMN type TYPE text COLLATE "C";
        ALTER TABLE context_value_minutes ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN value TYPE text COLLATE "C";
        ALTER TABLE context_value_types ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN value TYPE text COLLATE "C", ALTER COLUMN type TYPE text COLLATE "C";
        ALTER TABLE context_values ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN value TYPE text COLLATE "C";
        """,
    ];

    /// <summary>The version this collector writes.</summary>
    public static int CurrentVersion => Migrations.Length;

    public static Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        MigrateAsync(dataSource, CurrentVersion, cancellationToken);

    /// <summary>Brings the database to <paramref name="targetVersion"/> (tests build older databases with it).</summary>
    internal static async Task MigrateAsync(NpgsqlDataSource dataSource, int targetVersion, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetVersion, CurrentVersion);
        await using NpgsqlConnection connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLock});", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS instrumentation_schema (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());", cancellationToken).ConfigureAwait(false);
        int version;
        await using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM instrumentation_schema;", connection, transaction))
        {
            version = (int)(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The PostgreSQL database '{connection.Database}' has schema version {version}, newer than the {CurrentVersion} this collector knows. Upgrade this collector instance to the version the others run.");
        }

        for (int next = version + 1; next <= targetVersion; next++)
        {
            await ExecuteAsync(connection, transaction, Migrations[next - 1], cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, $"INSERT INTO instrumentation_schema (version) VALUES ({next});", cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
