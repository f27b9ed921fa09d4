namespace Instrumentation.Collector.Storage;

/// <summary>The stores the collector can use.</summary>
public enum StorageProvider
{
    /// <summary>An embedded SQLite file (one collector instance).</summary>
    Sqlite,

    /// <summary>A PostgreSQL server, shared by any number of collector instances.</summary>
    PostgreSql,
}

/// <summary>Where and how the collector stores events (configuration section <c>Collector:Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary><c>Sqlite</c> (default) or <c>PostgreSql</c>.</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>
    /// The ADO.NET connection string. For SQLite, optional: when empty the file is the collector's <c>DatabasePath</c>
    /// (default <c>collector.db</c>); when set it must name a <c>Data Source</c>. For PostgreSQL, required
    /// (<c>Host=…;Database=…;Username=…;Password=…</c>).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Upload batches that may wait for the writer; further requests wait for room (back-pressure). Default 1,024.</summary>
    public int MaxPendingBatches { get; set; } = 1024;

    /// <summary>The most events the writer commits in one transaction (whole batches; a larger batch goes alone). Default 20,000.</summary>
    public int MaxEventsPerCommit { get; set; } = 20_000;

    /// <summary>
    /// PostgreSQL only: writers that commit concurrently, each on its own connection (a server backend, so one core of
    /// the database server each). One writer leaves the server's work on one core; several spread it, while each
    /// request is still answered only after the transaction holding its events has committed. A writer other than the
    /// first starts a transaction only when 100 or more events are waiting, so a light load stays in one writer's
    /// larger transactions. SQLite always has one writer. Default 2; 1 to 32.
    /// </summary>
    public int PostgreSqlWriters { get; set; } = DefaultPostgreSqlWriters;

    /// <summary>The default of <see cref="PostgreSqlWriters"/>.</summary>
    public const int DefaultPostgreSqlWriters = 2;

    /// <summary>Checks the settings.</summary>
    /// <returns>What is wrong, one message per problem; empty when the settings are valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Provider))
        {
            errors.Add($"Collector:Storage:Provider must be 'Sqlite' or 'PostgreSql'; got '{Provider}'.");
        }

        if (Provider == StorageProvider.PostgreSql && string.IsNullOrWhiteSpace(ConnectionString))
        {
            errors.Add("Collector:Storage:ConnectionString is required when Collector:Storage:Provider is 'PostgreSql' (for example 'Host=db;Database=instrumentation;Username=collector;Password=…').");
        }

        if (!string.IsNullOrWhiteSpace(ConnectionString))
        {
            try
            {
                if (Provider == StorageProvider.Sqlite)
                {
                    if (string.IsNullOrWhiteSpace(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(ConnectionString).DataSource))
                    {
                        errors.Add("Collector:Storage:ConnectionString for SQLite must name a file ('Data Source=collector.db').");
                    }
                }
                else if (Provider == StorageProvider.PostgreSql)
                {
                    var builder = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
                    if (builder.Pooling && builder.MaxPoolSize <= PostgreSqlWriters)
                    {
                        errors.Add($"Collector:Storage:ConnectionString allows {builder.MaxPoolSize} pooled connections ('Maximum Pool Size'), which the {PostgreSqlWriters} writers (Collector:Storage:PostgreSqlWriters) would take up, leaving none for reads: raise it or lower PostgreSqlWriters.");
                    }
                }
            }
            catch (ArgumentException exception)
            {
                errors.Add($"Collector:Storage:ConnectionString is not a valid {Provider} connection string: {exception.Message}");
            }
        }

        if (MaxPendingBatches < 1)
        {
            errors.Add($"Collector:Storage:MaxPendingBatches must be at least 1; got {MaxPendingBatches}.");
        }

        if (MaxEventsPerCommit < 1)
        {
            errors.Add($"Collector:Storage:MaxEventsPerCommit must be at least 1; got {MaxEventsPerCommit}.");
        }

        if (PostgreSqlWriters is < 1 or > 32)
        {
            errors.Add($"Collector:Storage:PostgreSqlWriters must be between 1 and 32; got {PostgreSqlWriters}.");
        }

        return errors;
    }
}
