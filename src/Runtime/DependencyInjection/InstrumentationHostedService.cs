using Instrumentation;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Starts the <see cref="LogManager"/> with the host and flushes it (within its shutdown timeout) when the host stops.</summary>
internal sealed class InstrumentationHostedService(LogManager manager) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        manager.StartCore(attachToHub: true, registerProcessExit: false);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => manager.StopAsync().WaitAsync(cancellationToken);
}
