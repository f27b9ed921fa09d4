using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Instrumentation;

/// <summary>
/// One activity event: the envelope every event shares (id, type, priority, timestamp, trace context) and
/// the event's own data. The source generator derives one sealed type per <see cref="LogEventAttribute"/>
/// method, with a property per logged parameter and a reflection-free writer for the wire JSON.
/// </summary>
/// <remarks>
/// The envelope is stamped once, when the event is recorded (<see cref="LogEventHub.Record"/>), and never
/// changes afterwards: <see cref="EventId"/> is the key the collector deduplicates on, so retries and
/// replays of the same payload are safe.
/// </remarks>
public abstract class LogEventPayload
{
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText PriorityName = JsonEncodedText.Encode("priority");
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText TraceIdName = JsonEncodedText.Encode("trace_id");
    private static readonly JsonEncodedText SpanIdName = JsonEncodedText.Encode("span_id");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText ContextName = JsonEncodedText.Encode("context");
    private static readonly JsonEncodedText ImmediateValue = JsonEncodedText.Encode("immediate");
    private static readonly JsonEncodedText BatchValue = JsonEncodedText.Encode("batch");

    /// <summary>The event's <c>type</c> on the wire: the attribute's <c>Name</c>, else the method name in snake_case.</summary>
    public abstract string EventType { get; }

    /// <summary>Whether the event is uploaded at once or in a batch.</summary>
    public abstract Priority Priority { get; }

    /// <summary>The event's UUID version 7, made when it was recorded; <see cref="Guid.Empty"/> before that.</summary>
    public Guid EventId { get; private set; }

    /// <summary>When the event was recorded (UTC); <c>default</c> before that.</summary>
    public DateTimeOffset Timestamp { get; private set; }

    /// <summary>The W3C trace id of <see cref="Activity.Current"/> when the event was recorded; <c>default</c> when there was none.</summary>
    public ActivityTraceId TraceId { get; private set; }

    /// <summary>The span id of <see cref="Activity.Current"/> when the event was recorded; <c>default</c> when there was none.</summary>
    public ActivitySpanId SpanId { get; private set; }

    /// <summary>The scoped context (<see cref="LogContext.Push"/>) in force when the event was recorded.</summary>
    internal LogContextFrame? ScopedContext { get; private set; }

    /// <summary>The scoped context fields in force when the event was recorded, innermost last; empty when there were none.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> ContextFields
    {
        get
        {
            var fields = new List<KeyValuePair<string, string?>>();
            for (LogContextFrame? frame = ScopedContext; frame is not null; frame = frame.Parent)
            {
                fields.Insert(0, new(frame.Name, frame.Value));
            }

            return fields;
        }
    }

    /// <summary>Whether the envelope has been stamped (the event was recorded).</summary>
    public bool IsRecorded => EventId != Guid.Empty;

    /// <summary>The pool this payload returns to when released (generated payloads only), else null.</summary>
    internal object? Pool;

    /// <summary>Returns this payload to <see cref="Pool"/> (set by the pool that adopted it).</summary>
    internal Action<object, LogEventPayload>? ReturnAction;

    /// <summary>
    /// How many listeners still hold this event, when more than one (set by <see cref="LogEventHub"/> when it hands the
    /// event to several); 0, the reset value, means one. A pooled payload goes back to its pool only when the last of
    /// them releases it.
    /// </summary>
    internal int Holders;

    /// <summary>Position in recording order within this process (the id's monotonic counter).</summary>
    internal long Sequence { get; private set; }

    /// <summary>
    /// Gives a pooled payload back to its pool once nothing reads it any more (the uploader has written its JSON, or
    /// dropped it). Payloads that are not pooled are left alone. When several listeners received the event, only the
    /// last release returns it; a listener that keeps the event (an in-memory sink) never releases it, so the payload
    /// is then never reused.
    /// </summary>
    internal void Release()
    {
        if (Pool is null || ReturnAction is null)
        {
            return;
        }

        // One holder (the usual case): no interlocked operation. Several: the one that takes the count to zero returns it.
        if (Volatile.Read(ref Holders) > 1 && Interlocked.Decrement(ref Holders) > 0)
        {
            return;
        }

        ResetEnvelope();
        ReturnAction(Pool, this);
    }

    /// <summary>Clears the envelope so the next recording stamps it afresh.</summary>
    internal virtual void ResetEnvelope()
    {
        EventId = Guid.Empty;
        Timestamp = default;
        TraceId = default;
        SpanId = default;
        ScopedContext = null;
        Sequence = 0;
        Holders = 0;
    }

    /// <summary>Stamps the envelope once; a payload recorded again keeps its first id and timestamp.</summary>
    internal bool TryStamp(DateTimeOffset timestamp, Activity? activity)
    {
        if (IsRecorded)
        {
            return false;
        }

        EventId = EventIdGenerator.Next(timestamp, out long sequence);
        Sequence = sequence;
        Timestamp = timestamp;
        ScopedContext = LogContext.Current;
        if (activity is not null && activity.IdFormat == ActivityIdFormat.W3C)
        {
            TraceId = activity.TraceId;
            SpanId = activity.SpanId;
        }

        return true;
    }

    /// <summary>Writes the whole event as one JSON object, in the wire format of docs/protocol.md.</summary>
    /// <param name="writer">The writer to write to.</param>
    public void WriteTo(Utf8JsonWriter writer) => WriteTo(writer, staticContext: null);

    /// <summary>Writes the whole event as one JSON object, with process-wide context fields.</summary>
    /// <param name="writer">The writer to write to.</param>
    /// <param name="staticContext">Fields every event carries (such as <c>net_id</c>); a scoped field of the same name wins.</param>
    public void WriteTo(Utf8JsonWriter writer, IReadOnlyList<KeyValuePair<string, string>>? staticContext)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString(IdName, EventId);
        writer.WriteString(TypeName, EventType);
        writer.WriteString(PriorityName, Priority == Priority.Immediate ? ImmediateValue : BatchValue);

        Span<byte> utf8 = stackalloc byte[64];
        Timestamp.UtcDateTime.TryFormat(utf8, out int written, "O", System.Globalization.CultureInfo.InvariantCulture);
        writer.WriteString(TimestampName, utf8[..written]);
        WriteContext(writer, staticContext);

        if (TraceId != default)
        {
            // ActivityTraceId/SpanId keep their hex form: ToHexString does not allocate for ids taken from an Activity.
            writer.WriteString(TraceIdName, TraceId.ToHexString());
            writer.WriteString(SpanIdName, SpanId.ToHexString());
        }

        writer.WriteStartObject(DataName);
        WriteData(writer);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private void WriteContext(Utf8JsonWriter writer, IReadOnlyList<KeyValuePair<string, string>>? staticContext)
    {
        if ((staticContext is null || staticContext.Count == 0) && ScopedContext is null)
        {
            return; // "context" is omitted when empty
        }

        writer.WriteStartObject(ContextName);
        if (staticContext is not null)
        {
            foreach (KeyValuePair<string, string> field in staticContext)
            {
                if (Find(ScopedContext, field.Key, stopAt: null) is null)
                {
                    writer.WriteString(field.Key, field.Value);
                }
            }
        }

        // Innermost first; an outer field hidden by an inner one of the same name is skipped.
        for (LogContextFrame? frame = ScopedContext; frame is not null; frame = frame.Parent)
        {
            if (Find(ScopedContext, frame.Name, stopAt: frame) is null)
            {
                writer.WriteString(frame.Name, frame.Value);
            }
        }

        writer.WriteEndObject();
    }

    private static LogContextFrame? Find(LogContextFrame? from, string name, LogContextFrame? stopAt)
    {
        for (LogContextFrame? frame = from; frame is not null && frame != stopAt; frame = frame.Parent)
        {
            if (frame.Name == name)
            {
                return frame;
            }
        }

        return null;
    }

    /// <summary>Writes the properties of the <c>data</c> object (the logged parameters); generated for each event.</summary>
    /// <param name="writer">The writer, positioned inside the <c>data</c> object.</param>
    protected abstract void WriteData(Utf8JsonWriter writer);

    /// <summary>The event as a JSON string (for tests and diagnostics; the uploader writes UTF-8 directly).</summary>
    /// <returns>The event's wire JSON.</returns>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <inheritdoc />
    public override string ToString() => ToJson();
}
