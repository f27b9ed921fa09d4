using Instrumentation.Collector.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// dotnet run --project src/Collector [-- --urls http://0.0.0.0:5080] [--Collector:DatabasePath=collector.db]
// Settings: appsettings.json, environment variables (Collector__IngestKeys__0=…, ASPNETCORE_URLS=…), command line.
// SIGTERM and Ctrl+C stop it gracefully: no new connections, in-flight requests finish, the database is closed.
WebApplication app;
try
{
    app = CollectorApplication.CreateBuilder(args).Build();
    app.UseCollector();
    await app.StartAsync();
}
catch (OptionsValidationException exception)
{
    Console.Error.WriteLine("The collector's configuration is invalid:");
    foreach (string failure in exception.Failures)
    {
        Console.Error.WriteLine("  " + failure);
    }

    return 2;
}
catch (Exception exception) when (exception is not OperationCanceledException)
{
    // An address in use, a certificate that cannot be read, a database that does not answer: the message says which.
    Console.Error.WriteLine("The collector could not start: " + exception.Message);
    return 1;
}

await using (app)
{
    await app.WaitForShutdownAsync();
}

return 0;
