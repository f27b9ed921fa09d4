using System.Reflection;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Runs a collector inside this process (the NotebookActivity sample and the tests do), built with the same
/// <see cref="CollectorApplication.AddCollector"/> and <see cref="CollectorApplication.UseCollector"/> as the service,
/// but configured only by the <see cref="CollectorOptions"/> passed in: the embedding process's appsettings.json,
/// environment variables and command line are its own, not the collector's.
/// </summary>
public static class CollectorHost
{
    /// <summary>Starts a collector in this process.</summary>
    /// <param name="options">The settings (validated like the service's).</param>
    /// <param name="url">Where to listen; port 0 picks a free port (read it from <see cref="RunningCollector.Address"/>).</param>
    /// <param name="configureLogging">Changes the server's logging (by default it logs warnings and errors to the console).</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <returns>The running collector; dispose it to stop.</returns>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range.</exception>
    public static async Task<RunningCollector> StartAsync(CollectorOptions options, string url = "http://127.0.0.1:0", Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(url);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            // No file watcher for a configuration this host throws away just below.
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(); // where UseUrls below writes
        builder.WebHost.UseUrls(url);
        builder.AddCollector(target => CopyTo(options, target));
        builder.Logging.ClearProviders();
        if (configureLogging is not null)
        {
            configureLogging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        }

        WebApplication app = builder.Build();
        app.UseCollector();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RunningCollector(app, app.Services.GetRequiredService<IEventStore>(), new Uri(address));
    }

    /// <summary>Every settable property, so that options added later are carried over without a change here.</summary>
    private static void CopyTo(CollectorOptions source, CollectorOptions target)
    {
        foreach (PropertyInfo property in typeof(CollectorOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.CanWrite)
            {
                object? value = property.GetValue(source);
                property.SetValue(target, value is List<string> list ? new List<string>(list) : value);
            }
        }
    }
}

/// <summary>A collector running in this process.</summary>
public sealed class RunningCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    internal RunningCollector(WebApplication app, IEventStore store, Uri address)
    {
        _app = app;
        Store = store;
        Address = address;
    }

    /// <summary>The address it listens on (with the port chosen when the URL asked for port 0).</summary>
    public Uri Address { get; }

    /// <summary>The store behind it (for reading what was stored).</summary>
    public IEventStore Store { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Stops the server (in-flight requests finish) and closes the database.</summary>
    /// <returns>A task that completes when it has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false); // disposes the store with the container
    }
}
