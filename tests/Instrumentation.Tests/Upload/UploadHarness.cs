using Instrumentation.Upload;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>A LogManager wired to a scripted collector and a fake clock, plus bounded waits for the background loop.</summary>
internal sealed class UploadHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private UploadHarness(ScriptedCollector collector, FakeTimeProvider time, LogManager manager, List<DeadLetter> deadLetters)
    {
        Collector = collector;
        Time = time;
        Manager = manager;
        DeadLetters = deadLetters;
    }

    public ScriptedCollector Collector { get; }

    public FakeTimeProvider Time { get; }

    public LogManager Manager { get; }

    public List<DeadLetter> DeadLetters { get; }

    public static async Task<UploadHarness> StartAsync(Action<LogManagerOptions>? configure = null, bool start = true, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        ScriptedCollector collector = await ScriptedCollector.StartAsync();
        var time = new FakeTimeProvider(Start);
        var deadLetters = new List<DeadLetter>();
        var options = new LogManagerOptions
        {
            Endpoint = collector.Endpoint,
            RetryBaseDelay = TimeSpan.FromSeconds(1),
            RetryMaxDelay = TimeSpan.FromSeconds(10),
            FlushOnProcessExit = false,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
            OnDeadLetter = letters => { lock (deadLetters) { deadLetters.AddRange(letters); } },
        };
        configure?.Invoke(options);
        var manager = new LogManager(options, () => SharedClient, loggerFactory, time, null, random: new Random(42));
        if (start)
        {
            manager.StartCore(attachToHub: false, registerProcessExit: false);
        }

        return new UploadHarness(collector, time, manager, deadLetters);
    }

    private static readonly HttpClient SharedClient = new();

    /// <summary>Waits (in real time, bounded) until the background loop has made <paramref name="condition"/> true.</summary>
    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        var limit = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > limit)
            {
                Assert.Fail("Timed out waiting until " + what);
            }

            await Task.Delay(5);
        }
    }

    public Task WaitForRequests(int count) => WaitUntil(() => Collector.Received.Count >= count, $"the collector has {count} requests");

    public Task WaitForRetried(long count) => WaitUntil(() => Manager.GetStatistics().EventsRetried >= count, $"{count} events were requeued");

    public async ValueTask DisposeAsync()
    {
        // Let any pending retry fire so disposal's flush can finish, then stop.
        Task stopping = Manager.DisposeAsync().AsTask();
        for (int i = 0; i < 200 && !stopping.IsCompleted; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(10));
            await Task.WhenAny(stopping, Task.Delay(10));
        }

        await stopping;
        await Collector.DisposeAsync();
    }

    public static CustomLogEvent Batch(string name = "cell", int index = 0) =>
        new(name, Priority.Batch, [new("index", index)]);

    public static CustomLogEvent Immediate(string name = "notebook", int index = 0) =>
        new(name, Priority.Immediate, [new("index", index)]);
}
