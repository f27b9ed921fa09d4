using System.Collections.Concurrent;
using System.Text.Json;
using Instrumentation.Spool;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Instrumentation.Tests.Upload;

/// <summary>Regression tests for defects found in review (issue 9, item 4).</summary>
public sealed class DefectRegressionTests : IDisposable
{
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "instrumentation-defects-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_spool))
        {
            Directory.Delete(_spool, recursive: true);
        }
    }

    [Fact]
    public async Task Always_policy_does_not_block_a_recording_whose_serialization_fails()
    {
        await using var harness = await UploadHarness.StartAsync(o =>
        {
            o.SpoolDirectory = _spool;
            o.SpoolFlushPolicy = SpoolFlushPolicy.Always;
        });

        // Before the fix the caller waited for a flag on the payload that was never set.
        await Task.Run(() => harness.Manager.AddLog(new UnwritableEvent()), TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        harness.Manager.AddLog(UploadHarness.Batch(index: 1));

        LogManagerStatistics statistics = harness.Manager.GetStatistics();
        Assert.Equal(1, statistics.EventsDropped["serialization_failed"]);
        Assert.Equal(1, statistics.EventsDurable);
    }

    [Fact]
    public async Task Always_policy_does_not_block_a_recording_whose_spool_write_fails()
    {
        FailingQueue? queue = null;
        await using var harness = await UploadHarness.StartAsync(
            o =>
            {
                o.SpoolDirectory = _spool;
                o.SpoolFlushPolicy = SpoolFlushPolicy.Always;
            },
            spool: options => queue = new FailingQueue(SpoolDirectory.Open(options, UploadHarness.Start, NullLogger.Instance)));
        queue!.Failing = true;

        CustomLogEvent e = UploadHarness.Batch(index: 1);
        await Task.Run(() => harness.Manager.AddLog(e), TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(1, harness.Collector.Stored[e.EventId]); // kept in memory and uploaded
        Assert.Equal(0, harness.Manager.GetStatistics().EventsDurable); // but never counted as durable
    }

    [Fact]
    public async Task At_shutdown_an_event_whose_spool_write_failed_is_counted_as_dropped_not_left_in_the_spool()
    {
        UploadHarness harness = await UploadHarness.StartAsync(
            o =>
            {
                o.SpoolDirectory = _spool;
                o.ShutdownTimeout = TimeSpan.FromSeconds(5);
            },
            spool: options => new FailingQueue(SpoolDirectory.Open(options, UploadHarness.Start, NullLogger.Instance)) { FailingOrdinal = 1 });
        harness.Collector.Default = ScriptedCollector.DropConnection;
        harness.Manager.AddLog(UploadHarness.Batch(index: 1)); // its spool write fails: kept in memory only
        harness.Manager.AddLog(UploadHarness.Batch(index: 2)); // in the spool

        Task stopping = harness.Manager.DisposeAsync().AsTask();
        await harness.WaitForRetried(2);
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await stopping.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        // Before the fix both were reported as left in the spool and the first was lost without being counted.
        LogManagerStatistics statistics = harness.Manager.GetStatistics();
        Assert.Equal(1, statistics.EventsDropped["shutdown"]);
        Assert.Equal(1, statistics.PendingCount); // the spooled one, sent at the next start
        using (IDurableQueue reopened = SpoolDirectory.Open(new LogManagerOptions { Endpoint = harness.Collector.Endpoint, SpoolDirectory = _spool }, UploadHarness.Start, NullLogger.Instance))
        {
            Assert.Equal(1, reopened.ReplayedCount);
        }

        await harness.Collector.DisposeAsync();
    }

    [Fact]
    public async Task A_manager_disposed_without_being_started_closes_its_spool_and_keeps_what_it_was_given()
    {
        UploadHarness harness = await UploadHarness.StartAsync(o => o.SpoolDirectory = _spool, start: false);
        harness.Manager.AddLog(UploadHarness.Batch(index: 1));

        await harness.Manager.DisposeAsync();

        // Before the fix the spool stayed open (its lock held: the directory could not be opened again in this
        // process) and the event handed over was neither spooled nor counted.
        using (IDurableQueue reopened = SpoolDirectory.Open(new LogManagerOptions { Endpoint = harness.Collector.Endpoint, SpoolDirectory = _spool }, UploadHarness.Start, NullLogger.Instance))
        {
            Assert.Equal(1, reopened.ReplayedCount);
        }

        await harness.Collector.DisposeAsync();
    }

    [Fact]
    public async Task Dispose_on_a_single_threaded_synchronization_context_does_not_deadlock()
    {
        UploadHarness harness = await UploadHarness.StartAsync();
        harness.Manager.AddLog(UploadHarness.Batch(index: 1));
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ui = new Thread(() =>
        {
            // A UI thread: one thread runs every callback posted to its context, one at a time.
            var context = new SingleThreadSynchronizationContext();
            SynchronizationContext.SetSynchronizationContext(context);
            context.Post(
                _ =>
                {
                    try
                    {
                        harness.Manager.Dispose(); // blocks this thread; before the fix, shutdown posted back to it
                        disposed.SetResult();
                    }
                    catch (Exception exception)
                    {
                        disposed.SetException(exception);
                    }
                    finally
                    {
                        context.Complete();
                    }
                },
                null);
            context.RunOnCurrentThread();
        })
        { IsBackground = true };
        ui.Start();

        await disposed.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Throws<ObjectDisposedException>(() => { _ = harness.Manager.FlushAsync(TestContext.Current.CancellationToken); });
        await harness.Collector.DisposeAsync();
    }

    [Fact]
    public async Task The_dead_letter_reason_tag_never_carries_the_server_text()
    {
        await using var harness = await UploadHarness.StartAsync();
        using var deadLettered = new MetricCollector<long>(harness.Manager.Meter, "instrumentation.events.dead_lettered");
        string serverText = "field x is invalid " + Guid.NewGuid();
        harness.Collector.Then(async (context, _) =>
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync(JsonSerializer.Serialize(new { title = serverText }));
            return false;
        });
        harness.Collector.Then(async (context, _) =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(new { accepted = 0, rejected = new[] { new { index = 0, reason = serverText, retryable = false } } }));
            return false;
        });

        harness.Manager.AddLog(UploadHarness.Batch(index: 1));
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
        harness.Manager.AddLog(UploadHarness.Batch(index: 2));
        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["bad_request", "rejected"], deadLettered.GetMeasurementSnapshot().Select(m => (string)m.Tags["reason"]!));
        Assert.All(harness.DeadLetters, d => Assert.Contains(serverText, d.Detail, StringComparison.Ordinal));
        Assert.Contains(harness.Logs.GetSnapshot(), r => r.Message.Contains(serverText, StringComparison.Ordinal)); // the text goes to the log
    }

    /// <summary>A hand-built event whose data cannot be written.</summary>
    private sealed class UnwritableEvent : LogEventPayload
    {
        public override string EventType => "unwritable";

        public override Priority Priority => Priority.Batch;

        protected override void WriteData(Utf8JsonWriter writer) => throw new InvalidOperationException("cannot be serialized");
    }

    /// <summary>A real spool whose writes can be made to fail, as a full or broken disk makes them.</summary>
    private sealed class FailingQueue(IDurableQueue inner) : IDurableQueue
    {
        public volatile bool Failing;

        /// <summary>An ordinal whose append fails even while <see cref="Failing"/> is off.</summary>
        public long FailingOrdinal { get; init; } = -1;

        public long ReplayedCount => inner.ReplayedCount;

        public long TotalBytes => inner.TotalBytes;

        public long CorruptBytes => inner.CorruptBytes;

        public DateTimeOffset? NextSyncDue => inner.NextSyncDue;

        public long CommittedThrough => inner.CommittedThrough;

        public long Append(in SpoolEntry entry) => Failing || entry.Ordinal == FailingOrdinal ? 0 : inner.Append(entry);

        public CommitResult Commit(DateTimeOffset now) => Failing ? CommitResult.Failed : inner.Commit(now);

        public bool TryTakeReturned(out SpoolEntry entry) => inner.TryTakeReturned(out entry);

        public void Publish(long through) => inner.Publish(through);

        public void WaitForCommit(long commitNumber) => inner.WaitForCommit(commitNumber);

        public bool TryReadNext(out SpoolEntry entry, out long receipt) => inner.TryReadNext(out entry, out receipt);

        public void Acknowledge(long receipt) => inner.Acknowledge(receipt);

        public IReadOnlyList<SpoolDrop> Trim(DateTimeOffset now, long incomingBytes) => inner.Trim(now, incomingBytes);

        public void Dispose() => inner.Dispose();
    }

    /// <summary>A WPF/WinForms-like context: callbacks run one at a time on the thread that pumps it.</summary>
    private sealed class SingleThreadSynchronizationContext : SynchronizationContext
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("Send is not used here.");

        public void RunOnCurrentThread()
        {
            foreach ((SendOrPostCallback callback, object? state) in _queue.GetConsumingEnumerable())
            {
                callback(state);
            }
        }

        public void Complete() => _queue.CompleteAdding();
    }
}
