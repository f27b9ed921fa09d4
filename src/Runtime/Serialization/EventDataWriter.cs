using System.ComponentModel;
using System.Text.Json;

namespace Instrumentation.Serialization;

/// <summary>
/// Writes the JSON values that <see cref="Utf8JsonWriter"/> has no direct, safe call for. Called by generated
/// payload writers; not meant to be called directly.
/// </summary>
/// <remarks>
/// JSON numbers cannot hold NaN or infinities (and <see cref="Utf8JsonWriter"/> throws on them), so non-finite
/// floating values are written as the strings <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c>: an event
/// is never lost to a value it cannot represent.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class EventDataWriter
{
    /// <summary>Writes a <see cref="double"/> value; non-finite values as strings.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="value">The value.</param>
    public static void WriteNumberValue(Utf8JsonWriter writer, double value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(NonFiniteName(double.IsNaN(value), value > 0));
        }
    }

    /// <summary>Writes a <see cref="float"/> value; non-finite values as strings.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="value">The value.</param>
    public static void WriteNumberValue(Utf8JsonWriter writer, float value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (float.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(NonFiniteName(float.IsNaN(value), value > 0));
        }
    }

    /// <summary>Writes a <see cref="char"/> value as a one-character string.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="value">The value.</param>
    public static void WriteCharValue(Utf8JsonWriter writer, char value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ReadOnlySpan<char> one = [value];
        writer.WriteStringValue(one);
    }

    private static string NonFiniteName(bool isNaN, bool isPositive) =>
        isNaN ? "NaN" : isPositive ? "Infinity" : "-Infinity";
}
