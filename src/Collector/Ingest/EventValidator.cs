using System.Runtime.InteropServices;
using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// Checks one event against docs/protocol.md before it is stored; an invalid event gets a reason, never an exception.
/// What passes can be read back by any JSON reader (see <see cref="EventJsonScanner"/>).
/// </summary>
internal static class EventValidator
{
    private const int MaxTypeLength = 200;
    private const string PriorityProblem = "'priority' is missing or is not \"immediate\" or \"batch\"";
    private const string ContextProblem = "'context' must be a JSON object of strings";

    public static bool TryValidate(JsonElement element, int maxEventBytes, int maxDepth, out StoredEvent? stored, out string? reason) =>
        TryValidate(element, default, new Utf8Strings(), maxEventBytes, maxDepth, out stored, out reason);

    /// <summary>
    /// Validates an event of a document parsed from <paramref name="source"/>: the stored event's JSON is then a slice of
    /// it, not a copy, and its type and context strings come from <paramref name="strings"/> (one per request, so that a
    /// batch's repeated values are one string each).
    /// </summary>
    public static bool TryValidate(JsonElement element, ReadOnlyMemory<byte> source, Utf8Strings strings, int maxEventBytes, int maxDepth, out StoredEvent? stored, out string? reason)
    {
        stored = null;
        reason = Check(element, strings, maxEventBytes, maxDepth, out Guid id, out string? type, out string? priority, out DateTimeOffset timestamp, out List<KeyValuePair<string, string>>? context);
        if (reason is not null)
        {
            return false;
        }

        // The raw bytes are valid UTF-8 and valid UTF-16 once unescaped (checked above), so this cannot throw. The context
        // fields go along, so the store's single writer does not parse the event again for the dashboard's rollups.
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(element);
        if (!source.IsEmpty && source.Span.Overlaps(raw, out int offset))
        {
            stored = new StoredEvent(id, type!, priority!, timestamp, source.Slice(offset, raw.Length)) { Context = context ?? [] };
        }
        else
        {
            stored = new StoredEvent(id, type!, priority!, timestamp, element.GetRawText()) { Context = context ?? [] };
        }

        return true;
    }

    /// <summary>The event's id when it is a canonical UUID (safe to echo back in a rejection), else null.</summary>
    public static string? ReadableId(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("id"u8, out JsonElement id) || id.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(id); // with its quotes; never decoded, so never throws
        return raw.Length == 38 && TryParseCanonicalId(raw[1..^1], out _) ? System.Text.Encoding.ASCII.GetString(raw[1..^1]) : null;
    }

    private static string? Check(
        JsonElement element, Utf8Strings strings, int maxEventBytes, int maxDepth, out Guid id, out string? type, out string? priority, out DateTimeOffset timestamp, out List<KeyValuePair<string, string>>? contextFields)
    {
        contextFields = null;
        id = default;
        type = null;
        priority = null;
        timestamp = default;
        if (element.ValueKind != JsonValueKind.Object)
        {
            return "an event must be a JSON object";
        }

        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.Length > maxEventBytes)
        {
            return $"the event is larger than {maxEventBytes} bytes";
        }

        if (EventJsonScanner.FindProblem(raw, maxDepth) is { } problem)
        {
            return problem;
        }

        // From here every string can be decoded without an exception.
        if (!element.TryGetProperty("id"u8, out JsonElement idElement) || idElement.ValueKind != JsonValueKind.String
            || !TryParseCanonicalId(JsonMarshal.GetRawUtf8Value(idElement)[1..^1], out id))
        {
            return "'id' is missing or is not a UUID in canonical form (36 characters, lower-case hex, 8-4-4-4-12, not all zeros)";
        }

        if (!element.TryGetProperty("type"u8, out JsonElement typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            return "'type' is missing or is not a string";
        }

        type = strings.Get(typeElement);
        if (string.IsNullOrWhiteSpace(type) || type.Length > MaxTypeLength || HasControl(type))
        {
            return $"'type' must be 1 to {MaxTypeLength} characters, not blank, without control characters";
        }

        if (!element.TryGetProperty("priority"u8, out JsonElement priorityElement) || priorityElement.ValueKind != JsonValueKind.String)
        {
            return PriorityProblem;
        }

        priority = priorityElement.ValueEquals("immediate"u8) ? "immediate" : priorityElement.ValueEquals("batch"u8) ? "batch" : null;
        if (priority is null)
        {
            return PriorityProblem;
        }

        if (!element.TryGetProperty("timestamp"u8, out JsonElement timestampElement) || timestampElement.ValueKind != JsonValueKind.String
            || !TryParseTimestamp(timestampElement, out timestamp))
        {
            return "'timestamp' is missing or is not an ISO 8601 date and time with an offset or Z (such as 2026-11-29T12:00:00.1234567Z)";
        }

        if (!element.TryGetProperty("data"u8, out JsonElement data) || data.ValueKind != JsonValueKind.Object)
        {
            return "'data' is missing or is not a JSON object";
        }

        if (element.TryGetProperty("context"u8, out JsonElement context))
        {
            if (context.ValueKind != JsonValueKind.Object)
            {
                return ContextProblem;
            }

            foreach (JsonProperty field in context.EnumerateObject())
            {
                if (field.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    return ContextProblem;
                }
            }

            // Context fields are stored as text columns too (the dashboard's rollups), and PostgreSQL text cannot hold U+0000:
            // such an event would fail its whole commit (503 on every retry) instead of being refused once.
            foreach (JsonProperty field in context.EnumerateObject())
            {
                string? value = field.Value.ValueKind == JsonValueKind.String ? strings.Get(field.Value) : null;
                string name = strings.GetName(field);
                if (name.Contains('\0') || (value is not null && value.Contains('\0')))
                {
                    return "'context' names and values must not contain U+0000 (\\u0000)";
                }

                if (value is not null)
                {
                    (contextFields ??= []).Add(new(name, value)); // names are unique (checked by the scanner)
                }
            }
        }

        if (!IsOptionalHex(element, "trace_id"u8, 32) || !IsOptionalHex(element, "span_id"u8, 16))
        {
            return "'trace_id' and 'span_id', when present, must be 32 and 16 lower-case hex digits";
        }

        return null;
    }

    /// <summary>
    /// The canonical text form of RFC 9562: 8-4-4-4-12 lower-case hex digits. Other forms that <see cref="Guid.TryParse(string?, out Guid)"/>
    /// accepts (braces, no hyphens, upper case) are refused, so the id a reader gets back is the id deduplication used.
    /// </summary>
    internal static bool TryParseCanonicalId(ReadOnlySpan<byte> text, out Guid id)
    {
        id = default;
        if (text.Length != 36)
        {
            return false;
        }

        for (int i = 0; i < 36; i++)
        {
            byte c = text[i];
            bool ok = i is 8 or 13 or 18 or 23 ? c == (byte)'-' : c is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f';
            if (!ok)
            {
                return false;
            }
        }

        // Parsed from the bytes as they are (no string per event): the check above leaves only the 'D' format.
        return System.Buffers.Text.Utf8Parser.TryParse(text, out id, out int consumed, 'D') && consumed == 36 && id != Guid.Empty;
    }

    private static bool HasControl(string text)
    {
        foreach (char c in text)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The timestamp parsed from its UTF-8 bytes as sent; an escaped one (rare) is unescaped first.</summary>
    private static bool TryParseTimestamp(JsonElement element, out DateTimeOffset timestamp)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(element)[1..^1];
        return raw.IndexOf((byte)'\\') < 0 ? StrictTimestamp.TryParse(raw, out timestamp) : StrictTimestamp.TryParse(element.GetString(), out timestamp);
    }

    private static bool IsOptionalHex(JsonElement element, ReadOnlySpan<byte> name, int length)
    {
        if (!element.TryGetProperty(name, out JsonElement value))
        {
            return true;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(value);
        if (raw.Length != length + 2)
        {
            return false;
        }

        foreach (byte c in raw[1..^1])
        {
            if (c is not (>= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f'))
            {
                return false;
            }
        }

        return true;
    }
}
