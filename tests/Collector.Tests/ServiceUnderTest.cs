using Instrumentation.Collector.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The service as <c>dotnet run</c> builds it (<see cref="CollectorApplication.CreateBuilder"/> with a command line), in
/// this process, over a SQLite file in a temporary folder.
/// </summary>
internal sealed class ServiceUnderTest : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ServiceUnderTest(WebApplication app, string folder, HttpMessageHandler? handler)
    {
        _app = app;
        Folder = folder;
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Client = handler is null ? new HttpClient { BaseAddress = Address } : new HttpClient(handler) { BaseAddress = Address };
    }

    public string Folder { get; }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static string NewFolder() => Directory.CreateTempSubdirectory("instrumentation-service-").FullName;

    public static async Task<ServiceUnderTest> StartAsync(string folder, string[] args, Action<WebApplicationBuilder>? configure = null, HttpMessageHandler? handler = null)
    {
        WebApplicationBuilder builder = CollectorApplication.CreateBuilder([$"--Collector:DatabasePath={Path.Combine(folder, "events.db")}", .. args]);
        builder.Logging.ClearProviders();
        configure?.Invoke(builder);
        WebApplication app = builder.Build();
        app.UseCollector();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new ServiceUnderTest(app, folder, handler);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is not a test failure.
        }
    }
}
