using System.Diagnostics;

namespace Instrumentation;

/// <summary>
/// The one process-wide hook point, a source with any number of listeners (the shape of
/// <see cref="ActivitySource"/> and <see cref="ActivityListener"/>): generated code records every event here, and
/// every attached listener (an upload pipeline, an in-memory sink in a test) receives each event recorded while it
/// listens.
/// </summary>
/// <remarks>
/// <para>
/// Recording never blocks and never throws into the application: it stamps the event once (id, timestamp, trace
/// context) and hands the same payload object to each listener. While no listener is attached, events wait in a
/// bounded buffer of <see cref="PendingCapacity"/> events and are handed to the first listener that attaches;
/// overflow is counted in <see cref="DroppedCount"/>.
/// </para>
/// <para>
/// <see cref="Attach"/> adds a listener and returns the handle that removes it. Two hosts in one process (two
/// <c>WebApplicationFactory</c> instances, or a host and a test's <see cref="Testing.InMemoryLogEventSink"/>) each
/// get every event.
/// </para>
/// <para>
/// One clock stamps an event for all listeners: the clock of the longest-attached listener that named one other than
/// <see cref="TimeProvider.System"/> (a test's fake clock), else the system clock. A hooked call reads its start and
/// its end from the same clock even when listeners come and go during the call.
/// </para>
/// </remarks>
public static class LogEventHub
{
    /// <summary>How many events are held while no listener is attached.</summary>
    public const int PendingCapacity = 1024;

    private static readonly PendingEventBuffer s_pending = new(PendingCapacity);
    private static readonly object s_gate = new();
    private static ListenerSet s_listeners = ListenerSet.None;
    private static long s_sinkFailures;
    private static long s_notCaptured;

    private static ListenerSet Listeners => Volatile.Read(ref s_listeners);

    /// <summary>Whether at least one listener is attached.</summary>
    public static bool IsAttached => Listeners.All.Length > 0;

    /// <summary>How many listeners are attached.</summary>
    public static int ListenerCount => Listeners.All.Length;

    /// <summary>
    /// The clock used for timestamps and hook durations: that of the longest-attached listener that named a clock other
    /// than the system's, else <see cref="TimeProvider.System"/>.
    /// </summary>
    public static TimeProvider TimeProvider => Listeners.Clock.TimeProvider;

    /// <summary>How many events wait for a listener to attach.</summary>
    public static int PendingCount => s_pending.Count;

    /// <summary>How many events were dropped because the pending buffer was full before a listener attached.</summary>
    public static long DroppedCount => s_pending.DroppedCount;

    /// <summary>How many times a listener threw while taking an event (that listener lost the event, the application was not disturbed).</summary>
    public static long SinkFailureCount => Interlocked.Read(ref s_sinkFailures);

    /// <summary>
    /// How many arguments of recorded events could not be copied (a default <c>ImmutableArray&lt;T&gt;</c>, a collection
    /// whose <c>CopyTo</c> throws): each was written as <c>"&lt;not captured: ExceptionType&gt;"</c> and the call went on.
    /// </summary>
    public static long NotCapturedCount => Interlocked.Read(ref s_notCaptured);

    /// <summary>Counts an argument that could not be copied (see <see cref="NotCapturedCount"/>).</summary>
    internal static void CountNotCaptured() => Interlocked.Increment(ref s_notCaptured);

    /// <summary>
    /// Records an event: stamps its id, timestamp and trace context (once; a payload recorded again keeps
    /// its first stamp) and hands it to every attached listener, or holds it until one attaches.
    /// Called by generated code; also usable for payloads built by hand. Never throws.
    /// </summary>
    /// <param name="payload">The event. <see langword="null"/> is ignored.</param>
    public static void Record(LogEventPayload payload)
    {
        if (payload is null)
        {
            return;
        }

        ListenerSet listeners = Listeners;
        RecordStamped(payload, listeners, listeners.Clock.TimeProvider.GetUtcNow());
    }

    /// <summary>Reads the clock at the start of a hooked call and remembers, in the payload, which clock it was.</summary>
    internal static long StartCall(MethodCallPayload payload)
    {
        HubClock clock = Listeners.Clock;
        payload.StartClock = clock;
        return clock.TimeProvider.GetTimestamp();
    }

    /// <summary>
    /// Records the event of a hooked call that has just returned, thrown or completed: its duration and its timestamp
    /// come from one clock reading (the wall-clock time is derived from it, not read again), on the clock that read
    /// the start (a listener attaching or detaching during the call does not mix two clocks).
    /// </summary>
    internal static void RecordCall(MethodCallPayload payload, long startTimestamp, string? error)
    {
        ListenerSet listeners = Listeners;
        HubClock clock = payload.StartClock ?? listeners.Clock;
        long end = clock.TimeProvider.GetTimestamp();
        TimeSpan elapsed = clock.TimeProvider.GetElapsedTime(startTimestamp, end);
        payload.Complete(elapsed < TimeSpan.Zero ? TimeSpan.Zero : elapsed, error);
        RecordStamped(payload, listeners, clock.Wall.UtcAt(end));
    }

    private static void RecordStamped(LogEventPayload payload, ListenerSet listeners, DateTimeOffset timestamp)
    {
        payload.TryStamp(timestamp, Activity.Current);
        ILogEventSink[] all = listeners.All;
        if (all.Length == 1)
        {
            // One listener: the holder count stays at its reset value, 0, which Release reads as one holder.
            Write(all[0], payload);
            return;
        }

        if (all.Length > 1)
        {
            Publish(all, payload);
            return;
        }

        s_pending.Add(payload);

        // A listener may have attached between the read above and the add: hand the buffer over now so the event
        // is not stranded until the next attach.
        ILogEventSink[] after = Listeners.All;
        if (after.Length > 0)
        {
            Drain(after);
        }
    }

    /// <summary>Reads the clock used for hook durations (a high-resolution timestamp of <see cref="TimeProvider"/>).</summary>
    /// <returns>The current timestamp.</returns>
    public static long GetTimestamp() => Listeners.Clock.TimeProvider.GetTimestamp();

    /// <summary>
    /// Adds <paramref name="sink"/> as a listener: it receives every event recorded from now until the returned handle
    /// is disposed. The first listener also receives the events recorded while none was attached.
    /// </summary>
    /// <param name="sink">The listener.</param>
    /// <param name="timeProvider">
    /// The clock for timestamps and durations; <see langword="null"/> or <see cref="TimeProvider.System"/> leaves the
    /// choice to other listeners (see <see cref="TimeProvider"/>).
    /// </param>
    /// <returns>A handle whose disposal removes the listener (disposing it again does nothing).</returns>
    public static IDisposable Attach(ILogEventSink sink, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var listener = new Listener(sink, timeProvider is null || timeProvider == TimeProvider.System ? null : new HubClock(timeProvider));
        ILogEventSink[] now;
        lock (s_gate)
        {
            ListenerSet set = s_listeners.With(listener);
            Volatile.Write(ref s_listeners, set);
            now = set.All;
        }

        Drain(now);
        return listener;
    }

    private static void Detach(Listener listener)
    {
        lock (s_gate)
        {
            Volatile.Write(ref s_listeners, s_listeners.Without(listener));
        }
    }

    private static void Drain(ILogEventSink[] listeners)
    {
        foreach (LogEventPayload held in s_pending.TakeAll())
        {
            if (listeners.Length == 1)
            {
                Write(listeners[0], held);
            }
            else
            {
                Publish(listeners, held);
            }
        }
    }

    private static void Publish(ILogEventSink[] listeners, LogEventPayload payload)
    {
        // Each listener holds the payload until it lets go (Release); the last one returns a pooled payload to its pool.
        payload.Holders = listeners.Length;
        foreach (ILogEventSink listener in listeners)
        {
            Write(listener, payload);
        }
    }

    private static void Write(ILogEventSink sink, LogEventPayload payload)
    {
        try
        {
            sink.Write(payload);
        }
        catch (Exception)
        {
            // Recording must never disturb the application; the loss is counted.
            Interlocked.Increment(ref s_sinkFailures);
        }
    }

    /// <summary>One attached listener: its sink and, when it named one, its clock. Disposing it detaches it.</summary>
    private sealed class Listener(ILogEventSink sink, HubClock? clock) : IDisposable
    {
        public ILogEventSink Sink { get; } = sink;

        public HubClock? Clock { get; } = clock;

        public void Dispose() => Detach(this);
    }

    /// <summary>An immutable snapshot of the listeners (oldest first) and the clock they select; replaced on every change.</summary>
    private sealed class ListenerSet
    {
        // Declared before None, which reads it while it is built.
        private static readonly HubClock SystemClock = new(TimeProvider.System);

        public static readonly ListenerSet None = new([]);

        private readonly Listener[] _listeners;

        private ListenerSet(Listener[] listeners)
        {
            _listeners = listeners;
            All = Array.ConvertAll(listeners, static l => l.Sink);
            Clock = Array.Find(listeners, static l => l.Clock is not null)?.Clock ?? SystemClock;
        }

        public ILogEventSink[] All { get; }

        public HubClock Clock { get; }

        public ListenerSet With(Listener listener) => new([.. _listeners, listener]);

        public ListenerSet Without(Listener listener) =>
            Array.IndexOf(_listeners, listener) < 0 ? this : new(Array.FindAll(_listeners, l => l != listener));
    }
}

/// <summary>A clock of the hub: a <see cref="System.TimeProvider"/> and the wall-clock conversion of its timestamps.</summary>
internal sealed class HubClock(TimeProvider timeProvider)
{
    public TimeProvider TimeProvider { get; } = timeProvider;

    public WallClock Wall { get; } = new(timeProvider);
}
