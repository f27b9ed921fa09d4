using System.Diagnostics;

namespace Instrumentation;

/// <summary>
/// The one process-wide hook point: generated code records every event here, and the pipeline that
/// uploads events (or an in-memory sink in tests) attaches itself here.
/// </summary>
/// <remarks>
/// <para>
/// Recording never blocks and never throws into the application: it stamps the event (id, timestamp,
/// trace context) and hands it to the attached sink. Before any sink is attached, events wait in a
/// bounded buffer of <see cref="PendingCapacity"/> events and are handed to the first sink that attaches;
/// overflow is counted in <see cref="DroppedCount"/>.
/// </para>
/// <para>
/// One sink is attached at a time; <see cref="Attach"/> returns the handle that detaches it.
/// </para>
/// </remarks>
public static class LogEventHub
{
    /// <summary>How many events are held while no sink is attached.</summary>
    public const int PendingCapacity = 1024;

    private static readonly PendingEventBuffer s_pending = new(PendingCapacity);
    private static readonly Attachment s_detached = new(null, TimeProvider.System);
    private static Attachment s_current = s_detached;
    private static long s_sinkFailures;

    private static Attachment Current => Volatile.Read(ref s_current);

    /// <summary>Whether a sink is attached.</summary>
    public static bool IsAttached => Current.Sink is not null;

    /// <summary>The clock used for timestamps and hook durations: the attached sink's, else <see cref="TimeProvider.System"/>.</summary>
    public static TimeProvider TimeProvider => Current.TimeProvider;

    /// <summary>How many events wait for a sink to attach.</summary>
    public static int PendingCount => s_pending.Count;

    /// <summary>How many events were dropped because the pending buffer was full before a sink attached.</summary>
    public static long DroppedCount => s_pending.DroppedCount;

    /// <summary>How many times the attached sink threw while taking an event (the event was lost, the application was not disturbed).</summary>
    public static long SinkFailureCount => Interlocked.Read(ref s_sinkFailures);

    /// <summary>
    /// Records an event: stamps its id, timestamp and trace context (once; a payload recorded again keeps
    /// its first stamp) and hands it to the attached sink, or holds it until one attaches.
    /// Called by generated code; also usable for payloads built by hand. Never throws.
    /// </summary>
    /// <param name="payload">The event. <see langword="null"/> is ignored.</param>
    public static void Record(LogEventPayload payload)
    {
        if (payload is null)
        {
            return;
        }

        Attachment current = Current;
        RecordStamped(payload, current, current.TimeProvider.GetUtcNow());
    }

    /// <summary>
    /// Records the event of a hooked call that has just returned, thrown or completed: its duration and its timestamp
    /// come from one clock reading (the wall-clock time is derived from it, not read again).
    /// </summary>
    internal static void RecordCall(MethodCallPayload payload, long startTimestamp, string? error)
    {
        Attachment current = Current;
        long end = current.TimeProvider.GetTimestamp();
        TimeSpan elapsed = current.TimeProvider.GetElapsedTime(startTimestamp, end);
        payload.Complete(elapsed < TimeSpan.Zero ? TimeSpan.Zero : elapsed, error);
        RecordStamped(payload, current, current.Clock.UtcAt(end));
    }

    private static void RecordStamped(LogEventPayload payload, Attachment current, DateTimeOffset timestamp)
    {
        payload.TryStamp(timestamp, Activity.Current);
        if (current.Sink is not null)
        {
            WriteToSink(current.Sink, payload);
            return;
        }

        s_pending.Add(payload);

        // A sink may have attached between the read above and the add: hand the buffer over now so the event
        // is not stranded until the next attach.
        Attachment after = Current;
        if (after.Sink is not null)
        {
            Drain(after.Sink);
        }
    }

    /// <summary>Reads the clock used for hook durations (a high-resolution timestamp of <see cref="TimeProvider"/>).</summary>
    /// <returns>The current timestamp.</returns>
    public static long GetTimestamp() => Current.TimeProvider.GetTimestamp();

    /// <summary>
    /// Makes <paramref name="sink"/> the target of every recorded event and hands it the events that were
    /// recorded while none was attached.
    /// </summary>
    /// <param name="sink">The sink.</param>
    /// <param name="timeProvider">The clock for timestamps and durations; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <returns>A handle whose disposal detaches the sink (later events are held again until the next attach).</returns>
    /// <exception cref="InvalidOperationException">Another sink is attached; dispose its handle first.</exception>
    public static IDisposable Attach(ILogEventSink sink, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var attachment = new Attachment(sink, timeProvider ?? TimeProvider.System);
        if (Interlocked.CompareExchange(ref s_current, attachment, s_detached) != s_detached)
        {
            throw new InvalidOperationException(
                $"A log event sink ({Current.Sink?.GetType().Name}) is already attached to {nameof(LogEventHub)}. " +
                "Dispose the handle returned by its Attach call (or the LogManager that attached it) before attaching another.");
        }

        Drain(sink);
        return attachment;
    }

    private static void Drain(ILogEventSink sink)
    {
        foreach (LogEventPayload held in s_pending.TakeAll())
        {
            WriteToSink(sink, held);
        }
    }

    private static void WriteToSink(ILogEventSink sink, LogEventPayload payload)
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

    private sealed class Attachment(ILogEventSink? sink, TimeProvider timeProvider) : IDisposable
    {
        public ILogEventSink? Sink { get; } = sink;

        public TimeProvider TimeProvider { get; } = timeProvider;

        public WallClock Clock { get; } = new(timeProvider);

        public void Dispose() => Interlocked.CompareExchange(ref s_current, s_detached, this);
    }
}
