using Instrumentation.Testing;
using Instrumentation.Tests.Subjects;

namespace Instrumentation.Tests.Runtime;

[Collection(HubCollection.Name)]
public class LogEventHubTests
{
    [Fact]
    public void Events_recorded_before_a_sink_attaches_are_handed_over_in_order()
    {
        NotebookEvents.WindowFocus(true, "early-1");
        NotebookEvents.NotebookVisited("early-2", TimeSpan.Zero);
        Assert.Equal(2, LogEventHub.PendingCount);

        var sink = new InMemoryLogEventSink();
        using (LogEventHub.Attach(sink))
        {
            Assert.Equal(0, LogEventHub.PendingCount);
            Assert.Equal(["window-focus", "notebook"], sink.Events.Select(e => e.EventType));
        }
    }

    [Fact]
    public void Pending_buffer_is_bounded_drops_batch_events_first_and_counts_every_drop()
    {
        long droppedBefore = LogEventHub.DroppedCount;
        NotebookEvents.NotebookVisited("immediate-kept", TimeSpan.Zero);
        for (int i = 0; i < LogEventHub.PendingCapacity + 10; i++)
        {
            NotebookEvents.WindowFocus(true, "batch-" + i);
        }

        Assert.Equal(LogEventHub.PendingCapacity, LogEventHub.PendingCount);
        Assert.Equal(11, LogEventHub.DroppedCount - droppedBefore);

        var sink = new InMemoryLogEventSink();
        using (LogEventHub.Attach(sink))
        {
            Assert.Equal(LogEventHub.PendingCapacity, sink.Count);
            Assert.Equal("immediate-kept", Assert.Single(sink.OfType<NotebookEvent>()).NotebookId);
            // The eleven oldest batch events went first.
            Assert.Equal("batch-11", sink.OfType<WindowFocusEvent>()[0].Id);
        }
    }

    [Fact]
    public void Only_one_sink_at_a_time_with_a_clear_message()
    {
        using IDisposable first = LogEventHub.Attach(new InMemoryLogEventSink());

        var error = Assert.Throws<InvalidOperationException>(() => LogEventHub.Attach(new InMemoryLogEventSink()));

        Assert.Contains("already attached", error.Message, StringComparison.Ordinal);
        Assert.Contains("Dispose the handle", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Detaching_twice_is_harmless_and_a_new_sink_can_attach()
    {
        IDisposable first = LogEventHub.Attach(new InMemoryLogEventSink());
        first.Dispose();
        first.Dispose();

        var second = new InMemoryLogEventSink();
        using (LogEventHub.Attach(second))
        {
            NotebookEvents.WindowFocus(false, "after");
        }

        Assert.Single(second.Events);
        Assert.False(LogEventHub.IsAttached);
    }

    [Fact]
    public void A_throwing_sink_never_reaches_the_application_and_is_counted()
    {
        long failuresBefore = LogEventHub.SinkFailureCount;
        using (LogEventHub.Attach(new ThrowingSink()))
        {
            NotebookEvents.WindowFocus(true, "x");
            Assert.Equal(42, new Kernel().Execute("nb", "c", 21));
        }

        Assert.Equal(2, LogEventHub.SinkFailureCount - failuresBefore);
    }

    [Fact]
    public void A_payload_recorded_twice_keeps_its_first_id_and_timestamp()
    {
        using var capture = new EventCapture();
        var payload = new WindowFocusEvent(true, "manual");

        LogEventHub.Record(payload);
        Guid firstId = payload.EventId;
        capture.Time.Advance(TimeSpan.FromMinutes(1));
        LogEventHub.Record(payload);

        Assert.Equal(firstId, payload.EventId);
        Assert.Equal(EventCapture.Start, payload.Timestamp);
        Assert.Equal(2, capture.Sink.Count);
    }

    [Fact]
    public async Task Many_threads_recording_while_a_sink_attaches_lose_nothing()
    {
        const int Threads = 4;
        const int PerThread = 200;
        var sink = new InMemoryLogEventSink();
        using var start = new Barrier(Threads + 1);
        var writers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            start.SignalAndWait(TestContext.Current.CancellationToken);
            for (int i = 0; i < PerThread; i++)
            {
                NotebookEvents.WindowFocus(true, t + ":" + i);
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        start.SignalAndWait(TestContext.Current.CancellationToken);
        using (LogEventHub.Attach(sink))
        {
            await Task.WhenAll(writers);
        }

        Assert.Equal(Threads * PerThread, sink.Count);
        Assert.Equal(Threads * PerThread, sink.Events.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(0, LogEventHub.PendingCount);
    }

    [Fact]
    public void Payloads_kept_by_an_in_memory_sink_are_never_reused()
    {
        var sink = new InMemoryLogEventSink();
        using (LogEventHub.Attach(sink))
        {
            NotebookEvents.WindowFocus(true, "one");
            NotebookEvents.WindowFocus(false, "two");
        }

        Assert.Equal(["one", "two"], sink.OfType<WindowFocusEvent>().Select(e => e.Id));
        Assert.NotSame(sink.Events[0], sink.Events[1]);
    }

    private sealed class ThrowingSink : ILogEventSink
    {
        public void Write(LogEventPayload payload) => throw new InvalidOperationException("sink is broken");
    }
}
