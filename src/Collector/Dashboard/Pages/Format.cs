using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Instrumentation.Collector.Dashboard.Pages;

/// <summary>How the pages write times, numbers and event excerpts.</summary>
internal static class Format
{
    public static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Rate(double perSecond) => perSecond.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>The event's <c>context</c> as <c>key=value</c> pairs.</summary>
    public static string Context(string json) => Section(json, "context", pairs: true);

    /// <summary>The event's <c>data</c>, shortened.</summary>
    public static string Data(string json) => Section(json, "data", pairs: false);

    /// <summary>The event's JSON, indented.</summary>
    public static string Pretty(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement, PrettyOptions);
    }

    private static readonly JsonSerializerOptions PrettyOptions = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Section(string json, string name, bool pairs)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty(name, out JsonElement section) || section.ValueKind != JsonValueKind.Object)
        {
            return string.Empty;
        }

        var text = new StringBuilder();
        foreach (JsonProperty property in section.EnumerateObject())
        {
            if (text.Length > 0)
            {
                text.Append(pairs ? " " : ", ");
            }

            text.Append(property.Name).Append(pairs ? "=" : ": ");
            text.Append(property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText());
            if (text.Length > 160)
            {
                return string.Concat(text.ToString(0, 157), "…");
            }
        }

        return text.ToString();
    }
}
