using System.Diagnostics.Metrics;
using Instrumentation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Instrumentation uploader with a host.</summary>
public static class InstrumentationServiceCollectionExtensions
{
    /// <summary>The name of the <see cref="HttpClient"/> the uploader uses; configure it through the returned builder.</summary>
    public const string HttpClientName = "Instrumentation";

    /// <summary>
    /// Registers a <see cref="LogManager"/> bound to <paramref name="configuration"/> (usually the <c>Instrumentation</c>
    /// section), validated at start, using <see cref="IHttpClientFactory"/>, and a hosted service that starts it (making
    /// it the target of generated hooks) and flushes it when the host stops.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section holding <see cref="LogManagerOptions"/>.</param>
    /// <param name="configure">Further settings applied after the configuration (e.g. <see cref="LogManagerOptions.OnDeadLetter"/>).</param>
    /// <returns>
    /// The builder of the uploader's named HTTP client, to add handlers or change its settings. The client's default
    /// request logging is off (<c>RemoveAllLoggers</c>); <c>AddDefaultLogger()</c> on the builder turns it back on.
    /// </returns>
    public static IHttpClientBuilder AddInstrumentation(this IServiceCollection services, IConfiguration configuration, Action<LogManagerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        OptionsBuilder<LogManagerOptions> options = services.AddOptions<LogManagerOptions>().Bind(configuration);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return AddCore(services, options);
    }

    /// <summary>Registers a <see cref="LogManager"/> configured in code; see the other overload.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder of the uploader's named HTTP client.</returns>
    public static IHttpClientBuilder AddInstrumentation(this IServiceCollection services, Action<LogManagerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(services, services.AddOptions<LogManagerOptions>().Configure(configure));
    }

    private static IHttpClientBuilder AddCore(IServiceCollection services, OptionsBuilder<LogManagerOptions> options)
    {
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LogManagerOptions>, LogManagerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(provider => new LogManager(
            provider.GetRequiredService<IOptions<LogManagerOptions>>().Value,
            () => provider.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
            provider.GetService<ILoggerFactory>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetService<IMeterFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, InstrumentationHostedService>());
        // Uploads never follow redirects (a captive portal answers a POST with 302 to its login page).
        // IHttpClientFactory logs four Information lines per request by default; an uploader that sends a request every
        // few seconds would flood the application's log. Only this client's loggers go: other clients keep theirs, and
        // the uploader logs what matters (failures, circuit, drops) itself. The returned builder can add them back.
        return services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(static () => Instrumentation.Upload.HttpUploadTransport.CreateHandler())
            .RemoveAllLoggers();
    }
}
