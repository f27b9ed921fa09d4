using Instrumentation.Testing;
using Instrumentation.Tests.Subjects;
using Microsoft.Extensions.Time.Testing;

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
    public void Every_listener_sees_every_event_recorded_while_it_listens()
    {
        var first = new InMemoryLogEventSink();
        var second = new InMemoryLogEventSink();
        IDisposable firstListening = LogEventHub.Attach(first);
        NotebookEvents.WindowFocus(true, "only-first");
        using (LogEventHub.Attach(second))
        {
            Assert.Equal(2, LogEventHub.ListenerCount);
            NotebookEvents.WindowFocus(true, "both");
            firstListening.Dispose();
            NotebookEvents.WindowFocus(true, "only-second");
        }

        Assert.Equal(["only-first", "both"], first.OfType<WindowFocusEvent>().Select(e => e.Id));
        Assert.Equal(["both", "only-second"], second.OfType<WindowFocusEvent>().Select(e => e.Id));
        Assert.Same(first.Events[1], second.Events[0]); // one event, stamped once, handed to both
        Assert.Equal(0, LogEventHub.PendingCount);
    }

    [Fact]
    public void Events_recorded_with_no_listener_go_to_the_first_listener_only()
    {
        NotebookEvents.WindowFocus(true, "held");
        var first = new InMemoryLogEventSink();
        var second = new InMemoryLogEventSink();
        using (LogEventHub.Attach(first))
        using (LogEventHub.Attach(second))
        {
            Assert.Equal(["held"], first.OfType<WindowFocusEvent>().Select(e => e.Id));
            Assert.Empty(second.Events);
        }
    }

    [Fact]
    public void A_pooled_payload_held_by_two_listeners_returns_to_its_pool_only_after_both_release_it()
    {
        var first = new InMemoryLogEventSink();
        var second = new InMemoryLogEventSink();
        using (LogEventHub.Attach(first))
        using (LogEventHub.Attach(second))
        {
            NotebookEvents.WindowFocus(true, "shared");
        }

        LogEventPayload shared = Assert.Single(first.Events);
        Guid id = shared.EventId;
        Assert.NotNull(shared.Pool); // a generated, pooled payload

        shared.Release(); // the first listener is done with it
        Assert.Equal(id, shared.EventId); // still intact for the second

        using (LogEventHub.Attach(new InMemoryLogEventSink()))
        {
            NotebookEvents.WindowFocus(true, "meanwhile");
        }

        Assert.Equal(id, shared.EventId); // not handed out again while the second listener holds it
        Assert.Equal("shared", ((WindowFocusEvent)shared).Id);

        shared.Release(); // the second listener is done: now it goes back to the pool
        Assert.Equal(Guid.Empty, shared.EventId);
    }

    [Fact]
    public void A_pooled_payload_with_one_listener_returns_at_its_release()
    {
        var sink = new InMemoryLogEventSink();
        using (LogEventHub.Attach(sink))
        {
            NotebookEvents.WindowFocus(true, "alone");
        }

        LogEventPayload payload = Assert.Single(sink.Events);
        payload.Release();

        Assert.Equal(Guid.Empty, payload.EventId);
    }

    [Fact]
    public void The_clock_is_the_longest_attached_listeners_that_named_one()
    {
        var older = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var newer = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var sink = new InMemoryLogEventSink();
        using (LogEventHub.Attach(sink, TimeProvider.System)) // the system clock leaves the choice to others
        using (LogEventHub.Attach(new InMemoryLogEventSink(), older))
        using (LogEventHub.Attach(new InMemoryLogEventSink(), newer))
        {
            Assert.Same(older, LogEventHub.TimeProvider);
            NotebookEvents.WindowFocus(true, "stamped");
        }

        Assert.Equal(older.GetUtcNow(), Assert.Single(sink.Events).Timestamp);
        Assert.Same(TimeProvider.System, LogEventHub.TimeProvider);
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
