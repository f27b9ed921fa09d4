using Instrumentation.Collector.Storage.PostgreSql;
using Instrumentation.Collector.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Storage;

/// <summary>Creates the configured <see cref="IEventStore"/> and brings its schema up to date.</summary>
public static class EventStoreFactory
{
    /// <summary>
    /// Validates <paramref name="options"/>, creates the store they name and migrates its schema. For SQLite without a
    /// connection string the file is <paramref name="defaultSqlitePath"/>.
    /// </summary>
    /// <param name="options">The storage settings.</param>
    /// <param name="defaultSqlitePath">The SQLite file used when <see cref="StorageOptions.ConnectionString"/> is empty.</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <returns>The store, ready to use. Dispose it to close the database.</returns>
    /// <exception cref="ArgumentException">The settings are invalid (the message says which and how to fix them).</exception>
    public static async Task<IEventStore> OpenAsync(StorageOptions options, string defaultSqlitePath, CancellationToken cancellationToken = default)
    {
        IEventStore store = Create(options, defaultSqlitePath);
        try
        {
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Validates <paramref name="options"/> and creates the store they name without touching the database (for a DI
    /// registration; call <see cref="IEventStore.InitializeAsync"/> before use, e.g. from a hosted service at start).
    /// </summary>
    /// <param name="options">The storage settings.</param>
    /// <param name="defaultSqlitePath">The SQLite file used when <see cref="StorageOptions.ConnectionString"/> is empty.</param>
    /// <param name="timeProvider">The clock that stamps each event's <c>received_at</c> (default: the system clock).</param>
    /// <param name="loggerFactory">Where the store tells what goes wrong in the background, such as SQLite's rollup file (default: nowhere).</param>
    /// <returns>The store, not yet initialized.</returns>
    /// <exception cref="ArgumentException">The settings are invalid (the message says which and how to fix them).</exception>
    public static IEventStore Create(StorageOptions options, string defaultSqlitePath, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        return options.Provider switch
        {
            StorageProvider.PostgreSql => new PostgreSqlEventStore(options.ConnectionString!, options, timeProvider),
            _ => new SqliteEventStore(
                string.IsNullOrWhiteSpace(options.ConnectionString) ? new SqliteConnectionStringBuilder { DataSource = defaultSqlitePath }.ToString() : options.ConnectionString,
                options,
                timeProvider,
                loggerFactory?.CreateLogger<SqliteEventStore>()),
        };
    }
}
