using Instrumentation.Collector.Hosting;
using Microsoft.Extensions.Configuration;

// dotnet run --project src/Collector [--Collector:Url=http://127.0.0.1:5080] [--Collector:DatabasePath=collector.db]
IConfiguration configuration = new ConfigurationBuilder()
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();
var options = new CollectorOptions();
configuration.GetSection(CollectorOptions.SectionName).Bind(options);

await using RunningCollector collector = await CollectorHost.StartAsync(options);
Console.WriteLine($"Collector listening on {collector.Address}, storing in {Path.GetFullPath(options.DatabasePath)}. Press Ctrl+C to stop.");
var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
await stop.Task;
