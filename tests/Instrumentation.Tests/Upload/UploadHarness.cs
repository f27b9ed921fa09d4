using Instrumentation.Upload;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>A LogManager wired to a scripted collector and a fake clock, plus bounded waits for the background loop.</summary>
internal sealed class UploadHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private UploadHarness(ScriptedCollector collector, FakeTimeProvider time, LogManager manager, List<DeadLetter> deadLetters, FakeLogCollector logs)
    {
        Logs = logs;
        Collector = collector;
        Time = time;
        Manager = manager;
        DeadLetters = deadLetters;
    }

    public ScriptedCollector Collector { get; }

    public FakeTimeProvider Time { get; }

    public LogManager Manager { get; }

    public List<DeadLetter> DeadLetters { get; }

    /// <summary>What the uploader logged.</summary>
    public FakeLogCollector Logs { get; }

    /// <param name="configure">Changes to the options.</param>
    /// <param name="start">Whether to start the manager now.</param>
    /// <param name="client">The HttpClient to upload with; a plain shared client (which follows redirects) when null.</param>
    /// <param name="loggerFactory">Where the uploader logs; a collector read through <see cref="Logs"/> when null.</param>
    /// <param name="spool">A durable queue to use instead of opening the configured spool directory.</param>
    /// <param name="random">The jitter's source; <c>new Random(42)</c> when null (<see cref="FixedRandom"/> makes every backoff a known share of its ceiling).</param>
    public static async Task<UploadHarness> StartAsync(Action<LogManagerOptions>? configure = null, bool start = true, HttpClient? client = null, Func<LogManagerOptions, Spool.IDurableQueue>? spool = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null, Random? random = null)
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

            RequestTimeout = HarnessRequestTimeout,
            OnDeadLetter = letters => { lock (deadLetters) { deadLetters.AddRange(letters); } },
        };
        configure?.Invoke(options);
        HttpClient uploadClient = client ?? SharedClient;
        var logs = new FakeLogCollector();
        loggerFactory ??= new LoggerFactory([new FakeLoggerProvider(logs)]);
        var manager = new LogManager(options, () => uploadClient, loggerFactory, time, null, random: random ?? new Random(42), spool: spool?.Invoke(options));
        if (options.RequestTimeout == HarnessRequestTimeout)
        {
            // Tests move the fake clock fast (seconds per real millisecond) while requests run in real time: a request
            // must not time out on the fake clock while the collector is still answering (its events would be sent
            // again). Validation caps the option at 10 minutes, which the fast clock passes in well under a second on a
            // loaded machine, so the harness lengthens it after the manager was built (the transport reads the option
            // for each request). A test that sets its own timeout keeps it.
            options.RequestTimeout = TimeSpan.FromDays(1);
        }
        if (start)
        {
            manager.StartCore(attachToHub: false, registerProcessExit: false);
        }

        return new UploadHarness(collector, time, manager, deadLetters, logs);
    }

    private static readonly HttpClient SharedClient = new();

    private static readonly TimeSpan HarnessRequestTimeout = LogManagerOptionsValidator.RequestTimeoutLimit;

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

    /// <summary>Flushes, advancing the fake clock while it waits (retries and backoffs need the clock to move).</summary>
    public async Task FlushAdvancingAsync(TimeSpan step)
    {
        Task flushed = Manager.FlushAsync(TestContext.Current.CancellationToken);
        var limit = DateTime.UtcNow.AddSeconds(60);
        while (!flushed.IsCompleted)
        {
            if (DateTime.UtcNow > limit)
            {
                Assert.Fail($"Timed out flushing; {Manager.PendingCount} events pending");
            }

            Time.Advance(step);
            await Task.WhenAny(flushed, Task.Delay(5, TestContext.Current.CancellationToken));
        }

        await flushed;
    }

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

/// <summary>A source of jitter that always draws the same value: each backoff is then that share of its ceiling.</summary>
internal sealed class FixedRandom(double value) : Random
{
    public override double NextDouble() => value;

    protected override double Sample() => value;
}
