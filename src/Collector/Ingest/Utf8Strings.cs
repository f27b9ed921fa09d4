using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// The strings of one request's events (types, context names and values), made once each: a batch repeats the same few
/// values in every event, and a string per event and field is garbage that two cores collect while they also ingest.
/// Only for JSON that the scanner has found valid (UTF-8, no lone surrogate escape).
/// </summary>
internal sealed class Utf8Strings
{
    // Longer strings, and strings beyond the first MaxEntries, are made each time: the cache stays small whatever a request holds.
    private const int MaxChars = 256;
    private const int MaxEntries = 1024;

    private Dictionary<string, string>? _strings;

    /// <summary>The value of a JSON string.</summary>
    /// <param name="element">A string element.</param>
    /// <returns>Its unescaped value.</returns>
    public string Get(JsonElement element)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(element)[1..^1];
        return raw.IndexOf((byte)'\\') >= 0 ? element.GetString()! : Get(raw);
    }

    /// <summary>The name of a JSON property.</summary>
    /// <param name="property">The property.</param>
    /// <returns>Its unescaped name.</returns>
    public string GetName(JsonProperty property)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8PropertyName(property);
        return raw.IndexOf((byte)'\\') >= 0 ? property.Name : Get(raw);
    }

    private string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxChars)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        Span<char> chars = stackalloc char[MaxChars];
        int length = Encoding.UTF8.GetChars(utf8, chars);
        ReadOnlySpan<char> text = chars[..length];
        _strings ??= new Dictionary<string, string>(StringComparer.Ordinal);
        if (_strings.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out string? known))
        {
            return known;
        }

        string made = new(text);
        if (_strings.Count < MaxEntries)
        {
            _strings.Add(made, made);
        }

        return made;
    }
}
