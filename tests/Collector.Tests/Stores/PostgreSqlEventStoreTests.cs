using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Storage.PostgreSql;
using Npgsql;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>The store contract on a real PostgreSQL server (a database of its own per test).</summary>
public sealed class PostgreSqlEventStoreTests(PostgreSqlServer server) : EventStoreContract
{
    private string? _connectionString;

    public override async ValueTask InitializeAsync() => _connectionString = await server.CreateDatabaseAsync();

    protected override IEventStore CreateStore(StorageOptions options, TimeProvider? timeProvider = null) => new PostgreSqlEventStore(_connectionString!, options, timeProvider);

    protected override async Task<DateTimeOffset> ReadReceivedAtAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand("SELECT received_at FROM events WHERE id = @id;", connection);
        command.Parameters.AddWithValue("id", id);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(Token);
        Assert.True(await reader.ReadAsync(Token));
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    protected override Task SetSchemaVersionAsync(int version) => ExecuteAsync($"INSERT INTO instrumentation_schema (version) VALUES ({version});");

    protected override Task DeleteEventRowsAsync() => ExecuteAsync("DELETE FROM events;");

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(Token);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Token);
    }

    [Fact]
    public async Task Two_instances_inserting_the_same_ids_in_opposite_orders_neither_deadlock_nor_duplicate()
    {
        IEventStore first = await OpenAsync();
        IEventStore second = await OpenAsync();
        for (int round = 0; round < 5; round++)
        {
            StoredEvent[] events = [.. Enumerable.Range(0, 2000).Select(_ => Event())];
            InsertResult[] results = await Task.WhenAll(
                Task.Run(() => first.InsertAsync(events, Token)),
                Task.Run(() => second.InsertAsync([.. events.Reverse()], Token)));
            Assert.Equal(events.Length, results.Sum(r => r.NewCount));
        }

        Assert.Equal(10_000, (await first.GetStatisticsAsync(Token)).Total);
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
