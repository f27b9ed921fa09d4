using System.Threading.RateLimiting;
using Instrumentation.Collector.Dashboard;
using Instrumentation.Collector.Dashboard.Queries;
using Instrumentation.Collector.Ingest;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Hosting;

/// <summary>Builds and starts the collector: Kestrel on a loopback address, the endpoints, the store.</summary>
public static class CollectorHost
{
    private const string RateLimitPolicy = "per-key";

    /// <summary>Starts a collector in this process (used by <c>dotnet run</c>, the NotebookActivity sample and tests).</summary>
    /// <param name="options">The settings. Use <c>Url = "http://127.0.0.1:0"</c> for a free port.</param>
    /// <param name="configureLogging">Changes the server's logging (by default it logs warnings and errors to the console).</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <returns>The running collector; dispose it to stop.</returns>
    /// <exception cref="ArgumentException">The URL is not a loopback http address.</exception>
    public static async Task<RunningCollector> StartAsync(CollectorOptions options, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out Uri? url) || url.Scheme != Uri.UriSchemeHttp || !url.IsLoopback)
        {
            throw new ArgumentException($"Collector:Url must be an http address on the loopback interface (such as http://127.0.0.1:5080); got '{options.Url}'.", nameof(options));
        }

        IEventStore store = await EventStoreFactory.OpenAsync(options.Storage, options.DatabasePath, cancellationToken).ConfigureAwait(false);
        var keys = new ApiKeyCheck(options.ApiKeys);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(options.Url);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        builder.Logging.ClearProviders();
        if (configureLogging is not null)
        {
            configureLogging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        }

        builder.Services.AddSingleton(store);
        builder.Services.AddProblemDetails();
        var ingestActivity = new IngestActivity(TimeProvider.System);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(ingestActivity);
        builder.Services.AddSingleton(store.Dashboard);
        builder.Services.AddRazorComponents();
        // Razor components bring antiforgery, hence data protection; the dashboard has no form that needs it, so keep
        // its keys in memory instead of writing an unencrypted key ring to the user's profile.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        bool rateLimited = options.RequestsPerSecondPerKey > 0;
        if (rateLimited)
        {
            builder.Services.AddRateLimiter(limiter =>
            {
                limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                limiter.OnRejected = (context, _) =>
                {
                    TimeSpan wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                    context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    return ValueTask.CompletedTask;
                };
                limiter.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetTokenBucketLimiter(
                    ApiKeyCheck.PresentedKey(context.Request) ?? "anonymous",
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.BurstPerKey,
                        TokensPerPeriod = options.RequestsPerSecondPerKey,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
            });
        }

        WebApplication app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        if (keys.Enabled)
        {
            app.Use(async (context, next) =>
            {
                if (context.Request.Path.StartsWithSegments("/health") || keys.IsValid(ApiKeyCheck.PresentedKey(context.Request)))
                {
                    await next(context);
                    return;
                }

                context.Response.Headers.WWWAuthenticate = "Bearer";
                await IngestEndpoints.Problem(StatusCodes.Status401Unauthorized, "API key required", "Send a valid key as 'Authorization: Bearer <key>'.").ExecuteAsync(context);
            });
        }

        if (rateLimited)
        {
            app.UseRateLimiter();
        }

        app.MapIngest(options, store, ingestActivity, rateLimited ? RateLimitPolicy : null);
        app.MapQueries(options, store);
        app.MapDashboard();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RunningCollector(app, store, new Uri(address));
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

    /// <summary>Stops the server and closes the database.</summary>
    /// <returns>A task that completes when it has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await Store.DisposeAsync().ConfigureAwait(false); // commits what the writer holds, then closes the database
    }
}
