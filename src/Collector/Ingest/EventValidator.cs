using System.Globalization;
using System.Text.Json;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Ingest;

/// <summary>Checks one event against docs/protocol.md; an invalid event gets a reason, never an exception.</summary>
internal static class EventValidator
{
    public static bool TryValidate(JsonElement element, string defaultPriority, int maxEventBytes, out StoredEvent? stored, out string? reason)
    {
        stored = null;
        if (element.ValueKind != JsonValueKind.Object)
        {
            reason = "an event must be a JSON object";
            return false;
        }

        string json = element.GetRawText();
        if (System.Text.Encoding.UTF8.GetByteCount(json) > maxEventBytes)
        {
            reason = $"the event is larger than {maxEventBytes} bytes";
            return false;
        }

        if (!element.TryGetProperty("id", out JsonElement id) || id.ValueKind != JsonValueKind.String || !Guid.TryParse(id.GetString(), out Guid eventId))
        {
            reason = "'id' is missing or is not a UUID string";
            return false;
        }

        if (!element.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(type.GetString()) || type.GetString()!.Length > 200)
        {
            reason = "'type' is missing, empty, longer than 200 characters, or not a string";
            return false;
        }

        if (!element.TryGetProperty("timestamp", out JsonElement timestamp) || timestamp.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(timestamp.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset when))
        {
            reason = "'timestamp' is missing or is not an ISO 8601 string";
            return false;
        }

        string priority = defaultPriority;
        if (element.TryGetProperty("priority", out JsonElement priorityElement))
        {
            priority = priorityElement.ValueKind == JsonValueKind.String ? priorityElement.GetString()! : string.Empty;
            if (priority is not ("immediate" or "batch"))
            {
                reason = "'priority' must be \"immediate\" or \"batch\"";
                return false;
            }
        }

        if (element.TryGetProperty("data", out JsonElement data) && data.ValueKind != JsonValueKind.Object)
        {
            reason = "'data' must be a JSON object";
            return false;
        }

        if (element.TryGetProperty("context", out JsonElement context)
            && (context.ValueKind != JsonValueKind.Object || context.EnumerateObject().Any(p => p.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))))
        {
            reason = "'context' must be a JSON object of strings";
            return false;
        }

        stored = new StoredEvent(eventId, type.GetString()!, priority, when, json);
        reason = null;
        return true;
    }
}
