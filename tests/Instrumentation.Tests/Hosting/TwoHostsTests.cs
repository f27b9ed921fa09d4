using Instrumentation.Testing;
using Instrumentation.Tests.Upload;
using Instrumentation.WebHost;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Instrumentation.Tests.Hosting;

/// <summary>
/// Two ASP.NET Core hosts with <c>AddInstrumentation</c> in one process, as two xunit test classes with their own
/// <see cref="WebApplicationFactory{TEntryPoint}"/> make them. Runs in parallel with other tests: it only looks at the
/// events it recorded itself (other tests may record at the same time, and every listener sees those too).
/// </summary>
public class TwoHostsTests
{
    [Fact]
    public async Task Two_hosts_and_an_in_memory_sink_each_receive_every_event_recorded_while_they_listen()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        await using ScriptedCollector firstCollector = await ScriptedCollector.StartAsync();
        await using ScriptedCollector secondCollector = await ScriptedCollector.StartAsync();
        await using WebApplicationFactory<Program> first = Host(firstCollector);
        await using WebApplicationFactory<Program> second = Host(secondCollector);
        using HttpClient firstClient = first.CreateClient(); // starts the first host: its LogManager listens
        using HttpClient secondClient = second.CreateClient(); // used to throw "A log event sink is already attached"
        string firstNotebook = "nb-" + Guid.NewGuid();
        string secondNotebook = "nb-" + Guid.NewGuid();

        var sink = new InMemoryLogEventSink();
        using (LogEventHub.Attach(sink)) // README's test sink, while both hosts run
        {
            (await firstClient.PostAsync($"/notebooks/{firstNotebook}/cells/c1", content: null, cancel)).EnsureSuccessStatusCode();
            (await secondClient.PostAsync($"/notebooks/{secondNotebook}/cells/c2", content: null, cancel)).EnsureSuccessStatusCode();
        }

        await first.Services.GetRequiredService<LogManager>().FlushAsync(cancel);
        await second.Services.GetRequiredService<LogManager>().FlushAsync(cancel);

        string[] mine = [firstNotebook, secondNotebook];
        Assert.Equal(mine, sink.OfType<CellOpenedEvent>().Select(e => e.NotebookId).Where(mine.Contains));
        foreach (ScriptedCollector collector in (ScriptedCollector[])[firstCollector, secondCollector])
        {
            // Each host's uploader listens to the whole process, so each collector gets both events, once each.
            var received = collector.Received
                .SelectMany(r => r.Events)
                .Where(e => e.GetProperty("type").GetString() == "cell_opened")
                .Select(e => (Notebook: e.GetProperty("data").GetProperty("notebook_id").GetString(), Id: e.GetProperty("id").GetGuid()))
                .Where(e => mine.Contains(e.Notebook))
                .ToList();
            Assert.Equal(mine.Order(), received.Select(e => e.Notebook).Order());
            Assert.All(received, e => Assert.Equal(1, collector.Stored[e.Id]));
        }
    }

    private static WebApplicationFactory<Program> Host(ScriptedCollector collector) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(host => host
            .UseSetting("Instrumentation:Endpoint", collector.Endpoint.ToString()));
}
