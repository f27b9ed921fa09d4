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
    ];

    /// <summary>The version this collector writes.</summary>
    public static int CurrentVersion => Migrations.Length;

    public static async Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
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

        for (int next = version + 1; next <= CurrentVersion; next++)
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
