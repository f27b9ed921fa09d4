using Npgsql;

namespace Instrumentation.Benchmarks;

/// <summary>
/// A database made for one benchmark run on the server a connection string names (which must allow
/// <c>CREATE DATABASE</c>), and dropped when the run ends, so each run starts from empty tables and the database the
/// connection string names is left as it was.
/// </summary>
internal sealed class ScratchPostgresDatabase : IAsyncDisposable
{
    private readonly string _server;
    private readonly string _name;

    private ScratchPostgresDatabase(string server, string name, string connectionString)
    {
        _server = server;
        _name = name;
        ConnectionString = connectionString;
    }

    /// <summary>The scratch database's connection string (the given one with its database replaced).</summary>
    public string ConnectionString { get; }

    public static async Task<ScratchPostgresDatabase> CreateAsync(string server)
    {
        string name = "instrumentation_benchmark_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name};", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new ScratchPostgresDatabase(server, name, new NpgsqlConnectionStringBuilder(server) { Database = name }.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE);", connection);
        await command.ExecuteNonQueryAsync();
    }
}
