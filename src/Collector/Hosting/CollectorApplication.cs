using Instrumentation.Collector.Dashboard;
using Instrumentation.Collector.Health;
using Instrumentation.Collector.Ingest;
using Instrumentation.Collector.Security;
using Instrumentation.Collector.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// The collector as an ASP.NET Core application: <see cref="CreateBuilder"/> for the service (<c>dotnet run</c>),
/// <see cref="AddCollector"/> and <see cref="UseCollector"/> for a host of your own (the embedded
/// <see cref="CollectorHost.StartAsync"/> uses them too).
/// </summary>
public static class CollectorApplication
{
    /// <summary>Where the service listens when no address is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>
    /// <see cref="WebApplication.CreateBuilder(string[])"/> with the collector's services: appsettings.json,
    /// environment variables and <paramref name="args"/> are read the ASP.NET Core way. Listens where
    /// <c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c> or <c>Kestrel:Endpoints</c> say, else on
    /// <see cref="DefaultUrl"/>.
    /// </summary>
    /// <param name="args">The command line.</param>
    /// <returns>The builder; build it, call <see cref="UseCollector"/>, run it.</returns>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        IConfiguration configuration = builder.Configuration;
        bool addressConfigured = !string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpPortsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpsPortsKey])
            || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
        if (!addressConfigured)
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.AddCollector();
        return builder;
    }

    /// <summary>
    /// Registers the collector: <see cref="CollectorOptions"/> from the <c>Collector</c> section (validated at start),
    /// the store, the API-key authentication scheme and the <see cref="CollectorPolicies"/>, the rate limiter, problem
    /// bodies for every error, health checks, and the clock (<see cref="TimeProvider"/>).
    /// </summary>
    /// <param name="builder">The application's builder.</param>
    /// <param name="configure">Changes the options after they are read from configuration.</param>
    /// <returns>The builder.</returns>
    public static WebApplicationBuilder AddCollector(this WebApplicationBuilder builder, Action<CollectorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        IConfiguration configuration = builder.Configuration;
        OptionsBuilder<CollectorOptions> options = services.AddOptions<CollectorOptions>().BindConfiguration(CollectorOptions.SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options
            .Validate(
                _ => configuration[CollectorOptions.SectionName + ":Url"] is null,
                "Collector:Url is no longer read: set the address the ASP.NET Core way, with --urls, ASPNETCORE_URLS or Kestrel:Endpoints.")
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CollectorOptions>, CollectorOptionsValidator>());
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<CollectorOptions>>((kestrel, collector) =>
        {
            kestrel.AddServerHeader = false;
            // Kestrel reads Kestrel:Endpoints by itself but not Kestrel:Limits (MaxConcurrentConnections, KeepAliveTimeout,
            // RequestHeadersTimeout, MaxRequestHeaderCount, ...): bind them so an operator can set them like the rest.
            configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits);
            kestrel.Limits.MaxRequestBodySize = collector.Value.MaxRequestBytes; // for every other endpoint; ingest counts the payload itself (RequestBodyReader)
        });

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(provider =>
        {
            CollectorOptions collector = provider.GetRequiredService<IOptions<CollectorOptions>>().Value;
            return EventStoreFactory.Create(collector.Storage, collector.DatabasePath, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>()); // disposed with the container: the database closes cleanly
        });
        services.AddHostedService<StoreInitializer>();
        services.TryAddSingleton<ApiKeyCheck>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, displayName: "API key (Bearer)", configureOptions: null)
            .AddDashboardAuthentication(ApiKeyAuthenticationHandler.SchemeName);
        services.AddAuthorizationBuilder()
            .AddPolicy(CollectorPolicies.Ingest, policy => policy.AddRequirements(new CollectorAccessRequirement(CollectorRoles.Ingest)))
            .AddPolicy(CollectorPolicies.Read, policy => policy.AddRequirements(new CollectorAccessRequirement(CollectorRoles.Read)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, CollectorAccessHandler>());
        services.AddCollectorRateLimiter();

        services.AddProblemDetails();
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddExceptionHandler<StoreUnavailableExceptionHandler>();
        services.AddCollectorDashboard();
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: [ReadyTag]);
        return builder;
    }

    /// <summary>
    /// Adds the collector's middleware (problem bodies, authentication, rate limiting, authorization) and maps its
    /// endpoints: <c>POST /logs</c>, <c>POST /logs/batch</c> (ingest policy), <c>GET /logs</c>, <c>GET /stats</c> (read
    /// policy), <c>GET /health/live</c>, <c>GET /health/ready</c> and <c>GET /health</c> (open, not rate limited).
    /// </summary>
    /// <param name="app">The built application.</param>
    /// <returns>The application.</returns>
    public static WebApplication UseCollector(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();

        var liveness = new HealthCheckOptions { Predicate = _ => false }; // the process answers: nothing else to check
        app.MapHealthChecks("/health", liveness).AllowAnonymous().DisableRateLimiting();
        app.MapHealthChecks("/health/live", liveness).AllowAnonymous().DisableRateLimiting();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) }).AllowAnonymous().DisableRateLimiting();

        CollectorOptions options = app.Services.GetRequiredService<IOptions<CollectorOptions>>().Value;
        IEventStore store = app.Services.GetRequiredService<IEventStore>();
        app.MapGroup(string.Empty).RequireAuthorization(CollectorPolicies.Ingest).MapIngest(options, store, app.Services.GetRequiredService<IngestActivity>());
        app.MapGroup(string.Empty).RequireAuthorization(CollectorPolicies.Read).MapQueries(options, store);
        app.MapDashboard().RequireAuthorization(DashboardAuthenticationHandler.PolicyName);

        app.Lifetime.ApplicationStarted.Register(() => WarnWhenOpen(app));
        return app;
    }

    private const string ReadyTag = "ready";

    /// <summary>Names the store at start; and anyone who can reach a non-loopback address without keys can upload and read: say so.</summary>
    private static void WarnWhenOpen(WebApplication app)
    {
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Instrumentation.Collector");
        ICollection<string> addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        IEventStore store = app.Services.GetRequiredService<IEventStore>();
        logger.LogInformation("Collector storing in {Store}", store is Storage.Sqlite.SqliteEventStore sqlite ? $"{sqlite.DatabasePath} (dashboard rollups in {sqlite.RollupPath})" : store.Provider);
        if (!app.Services.GetRequiredService<ApiKeyCheck>().Enabled && addresses.Any(a => !IsLoopback(a)))
        {
            logger.LogWarning("Listening on {Addresses} without API keys: anyone who can reach it can upload and read. Set Collector:IngestKeys and Collector:ReadKeys.", string.Join(", ", addresses));
        }
    }

    private static bool IsLoopback(string address) =>
        Uri.TryCreate(address.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out Uri? uri) && uri.IsLoopback;
}
