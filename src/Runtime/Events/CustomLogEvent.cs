using System.Globalization;
using System.Text.Json;

namespace Instrumentation;

/// <summary>
/// An event built by hand, for <see cref="LogManager.AddLog"/> (events that do not come from a <c>[LogEvent]</c>
/// method). Values are written by their runtime type: strings, booleans, numbers, <see cref="Guid"/>, dates,
/// <see cref="TimeSpan"/> (as milliseconds) and null; any other value as its invariant string form.
/// </summary>
public sealed class CustomLogEvent : LogEventPayload
{
    private readonly string _eventType;
    private readonly Priority _priority;

    /// <summary>Creates the event.</summary>
    /// <param name="eventType">The event's <c>type</c>.</param>
    /// <param name="priority">Whether it is uploaded at once or in a batch.</param>
    /// <param name="data">The event's <c>data</c> members, copied now.</param>
    /// <exception cref="ArgumentException"><paramref name="eventType"/> is null or empty.</exception>
    public CustomLogEvent(string eventType, Priority priority, IEnumerable<KeyValuePair<string, object?>> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventType);
        ArgumentNullException.ThrowIfNull(data);
        _eventType = eventType;
        _priority = priority;
        Data = [.. data];
    }

    /// <summary>The event's <c>data</c> members.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> Data { get; }

    /// <inheritdoc />
    public override string EventType => _eventType;

    /// <inheritdoc />
    public override Priority Priority => _priority;

    /// <inheritdoc />
    protected override void WriteData(Utf8JsonWriter writer)
    {
        foreach (KeyValuePair<string, object?> member in Data)
        {
            writer.WritePropertyName(member.Key);
            switch (member.Value)
            {
                case null: writer.WriteNullValue(); break;
                case string text: writer.WriteStringValue(text); break;
                case bool flag: writer.WriteBooleanValue(flag); break;
                case int number: writer.WriteNumberValue(number); break;
                case long number: writer.WriteNumberValue(number); break;
                case double number: Serialization.EventDataWriter.WriteNumberValue(writer, number); break;
                case float number: Serialization.EventDataWriter.WriteNumberValue(writer, number); break;
                case decimal number: writer.WriteNumberValue(number); break;
                case Guid guid: writer.WriteStringValue(guid); break;
                case DateTime date: writer.WriteStringValue(date); break;
                case DateTimeOffset date: writer.WriteStringValue(date); break;
                case TimeSpan span: Serialization.EventDataWriter.WriteNumberValue(writer, span.TotalMilliseconds); break;
                case IFormattable formattable: writer.WriteStringValue(formattable.ToString(null, CultureInfo.InvariantCulture)); break;
                default: writer.WriteStringValue(member.Value.ToString()); break;
            }
        }
    }
}
