using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

[assembly: AssemblyFixture(typeof(Instrumentation.Collector.Tests.PostgreSqlServer))]

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The PostgreSQL server the tests use. <c>INSTRUMENTATION_TEST_POSTGRES</c> (a connection string with the right to
/// create databases; <c>.ci/run</c> sets it from <c>.ci/pg-start</c>) names one; without it, when PostgreSQL 15 is
/// installed (<c>/usr/lib/postgresql/15/bin</c>), a throwaway cluster is started here on a free loopback port and
/// stopped at the end, so a plain <c>dotnet test</c> works. Otherwise every PostgreSQL test fails and says how to get a
/// server. Each test gets a database of its own (<see cref="CreateDatabaseAsync"/>), so tests run in parallel.
/// </summary>
public sealed class PostgreSqlServer : IAsyncLifetime
{
    public const string EnvironmentVariable = "INSTRUMENTATION_TEST_POSTGRES";
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private readonly List<string> _databases = [];
    private string? _dataDirectory;
    private string? _adminConnectionString;
    private string? _unavailable;

    public async ValueTask InitializeAsync()
    {
        string? configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            _adminConnectionString = configured;
            return;
        }

        // A fresh machine has no PostgreSQL: install Debian's package as .ci/run does (as root), so plain `dotnet test`
        // runs these tests instead of failing them.
        string? missing = await Instrumentation.Testing.Shared.DebianPackages.EnsureAsync("postgresql", Path.Combine(BinDirectory, "initdb"));
        if (missing is not null)
        {
            _unavailable = $"The PostgreSQL tests need a server. Set {EnvironmentVariable} to a connection string that may create databases, "
                + "for example by running `eval \"$(.ci/pg-start)\"` (installs Debian's postgresql 15 when missing and starts a throwaway cluster; `.ci/pg-stop` stops it), "
                + $"or let the tests start one themselves: {missing}";
            return;
        }

        try
        {
            _adminConnectionString = await StartThrowawayClusterAsync();
        }
        catch (Exception exception)
        {
            _unavailable = $"Starting a throwaway PostgreSQL cluster with {BinDirectory} failed: {exception.Message}. Set {EnvironmentVariable} to use a running server instead.";
        }
    }

    /// <summary>Creates an empty database for one test and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        if (_adminConnectionString is null)
        {
            Assert.Fail(_unavailable);
        }

        string name = "instrumentation_test_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(_adminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name};", connection);
            await command.ExecuteNonQueryAsync();
        }

        lock (_databases)
        {
            _databases.Add(name);
        }

        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name, Pooling = true }.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_dataDirectory is not null)
        {
            await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), "-D", _dataDirectory, "-m", "immediate", "stop");
            Directory.Delete(_dataDirectory, recursive: true);
            return;
        }

        if (_adminConnectionString is not null)
        {
            // A server that outlives the run: leave it as it was.
            await using var connection = new NpgsqlConnection(_adminConnectionString);
            await connection.OpenAsync();
            foreach (string name in _databases)
            {
                await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE);", connection);
                await command.ExecuteNonQueryAsync();
            }
        }
    }

    private async Task<string> StartThrowawayClusterAsync()
    {
        _dataDirectory = Directory.CreateTempSubdirectory("instrumentation-pg-").FullName;
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", "postgres:postgres", _dataDirectory); // PostgreSQL refuses to run as root
        }

        await RunAsync(Path.Combine(BinDirectory, "initdb"), "-D", _dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        int port = FreePort();
        await RunAsync(
            Path.Combine(BinDirectory, "pg_ctl"), "-D", _dataDirectory, "-w", "-t", "120", "-l", Path.Combine(_dataDirectory, "server.log"),
            "-o", $"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={_dataDirectory} -c fsync=off -c max_connections=200",
            "start");
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a PostgreSQL tool (as the <c>postgres</c> user when the tests run as root).</summary>
    private static async Task RunAsync(string program, params string[] arguments)
    {
        bool asPostgres = Environment.UserName == "root" && program.StartsWith(BinDirectory, StringComparison.Ordinal);
        var start = new ProcessStartInfo(asPostgres ? "runuser" : program) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (asPostgres)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add("postgres");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(program);
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} exited with {process.ExitCode}: {await errors} {await output}".Trim());
        }
    }
}
