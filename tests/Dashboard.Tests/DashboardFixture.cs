using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;
using Instrumentation.Collector.Tests;

namespace Instrumentation.Dashboard.Tests;

/// <summary>
/// A collector on loopback (port 0) over a real store, seeded with <see cref="SeededEvents"/>, and one Chromium for
/// the test class. Subclasses choose the store.
/// </summary>
public abstract class DashboardFixture : IAsyncLifetime
{
    private RunningCollector? _collector;
    private Browser? _browser;

    /// <summary>The time the seed is relative to.</summary>
    public DateTimeOffset SeededAt { get; } = DateTimeOffset.UtcNow;

    private readonly List<SeededEvent> _seeded = [];

    /// <summary>Every event uploaded so far: the seed, and those tests added (tests of a class run one at a time).</summary>
    public IReadOnlyList<SeededEvent> Seeded
    {
        get
        {
            lock (_seeded)
            {
                return [.. _seeded];
            }
        }
    }

    public Uri Address => _collector?.Address ?? throw new InvalidOperationException("The collector has not started.");

    public Browser Browser => _browser ?? throw new InvalidOperationException("The browser has not started.");

    public HttpClient Http { get; private set; } = new();

    /// <summary>Starts a collector with the store under test.</summary>
    protected abstract Task<RunningCollector> StartCollectorAsync();

    /// <summary>Removes what the store left behind.</summary>
    protected abstract ValueTask CleanUpAsync();

    public async ValueTask InitializeAsync()
    {
        _collector = await StartCollectorAsync();
        Http = new HttpClient { BaseAddress = _collector.Address };
        await UploadAsync(SeededEvents.Create(SeededAt));
        _browser = await Browser.LaunchAsync();
    }

    /// <summary>Uploads events and adds them to <see cref="Seeded"/>.</summary>
    public async Task UploadAsync(IReadOnlyList<SeededEvent> events)
    {
        await SeededEvents.UploadAsync(Http, events, TestContext.Current.CancellationToken);
        lock (_seeded)
        {
            _seeded.AddRange(events);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        Http.Dispose();
        if (_collector is not null)
        {
            await _collector.DisposeAsync();
        }

        await CleanUpAsync();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The embedded store: a SQLite file in a temporary folder.</summary>
public sealed class SqliteDashboardFixture : DashboardFixture
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dashboard-tests-").FullName;

    protected override Task<RunningCollector> StartCollectorAsync() =>
        CollectorHost.StartAsync(new CollectorOptions { DatabasePath = Path.Combine(_folder, "events.db") }, "http://127.0.0.1:0", logging => { });

    protected override ValueTask CleanUpAsync()
    {
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A real PostgreSQL server (a database of its own for the test class).</summary>
public sealed class PostgreSqlDashboardFixture(PostgreSqlServer server) : DashboardFixture
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dashboard-tests-").FullName;

    protected override async Task<RunningCollector> StartCollectorAsync()
    {
        string connectionString = await server.CreateDatabaseAsync();
        return await CollectorHost.StartAsync(
            new CollectorOptions
            {
                DatabasePath = Path.Combine(_folder, "unused.db"),
                Storage = new StorageOptions { Provider = StorageProvider.PostgreSql, ConnectionString = connectionString },
            },
            "http://127.0.0.1:0",
            logging => { });
    }

    protected override ValueTask CleanUpAsync()
    {
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}
