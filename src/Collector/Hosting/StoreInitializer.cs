using Instrumentation.Collector.Storage;
using Microsoft.Extensions.Hosting;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Creates or migrates the store's schema as the host starts, before the server takes requests
/// (<see cref="IHostedLifecycleService.StartingAsync"/> runs before any hosted service starts, Kestrel's included).
/// </summary>
internal sealed class StoreInitializer(IEventStore store) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
