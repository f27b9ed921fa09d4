using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.PostgreSql;
using Npgsql;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>The store contract on a real PostgreSQL server (a database of its own per test).</summary>
public sealed class PostgreSqlEventStoreTests(PostgreSqlServer server) : EventStoreContract
{
    private string? _connectionString;

    public override async ValueTask InitializeAsync() => _connectionString = await server.CreateDatabaseAsync();

    protected override IEventStore CreateStore(StorageOptions options) => new PostgreSqlEventStore(_connectionString!, options);

    protected override async Task SetSchemaVersionAsync(int version)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand($"INSERT INTO instrumentation_schema (version) VALUES ({version});", connection);
        await command.ExecuteNonQueryAsync(Token);
    }

    [Fact]
    public async Task Ping_fails_when_the_server_does_not_answer()
    {
        int unusedPort = new NpgsqlConnectionStringBuilder(_connectionString).Port;
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { Host = "127.0.0.1", Port = unusedPort == 1 ? 2 : 1, Timeout = 5 };
        await using var store = new PostgreSqlEventStore(builder.ToString());
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.PingAsync(Token));
    }
}
