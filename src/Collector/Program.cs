using Instrumentation.Collector.Hosting;
using Microsoft.Extensions.Configuration;

// dotnet run --project src/Collector [--Collector:Url=http://127.0.0.1:5080] [--Collector:DatabasePath=collector.db]
//   [--Collector:Storage:Provider=PostgreSql --Collector:Storage:ConnectionString="Host=…;Database=…"]
IConfiguration configuration = new ConfigurationBuilder()
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();
var options = new CollectorOptions();
configuration.GetSection(CollectorOptions.SectionName).Bind(options);

await using RunningCollector collector = await CollectorHost.StartAsync(options);
string storedIn = collector.Store is Instrumentation.Collector.Storage.Sqlite.SqliteEventStore sqlite ? sqlite.DatabasePath : collector.Store.Provider;
Console.WriteLine($"Collector listening on {collector.Address}, storing in {storedIn}. Press Ctrl+C to stop.");
var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
await stop.Task;
