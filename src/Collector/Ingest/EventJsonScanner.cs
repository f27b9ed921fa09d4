using System.Text.Json;
using System.Text.Unicode;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// Checks that an event's JSON can be stored and read back by any reader: valid UTF-8, no lone UTF-16 surrogate in a
/// <c>\u</c> escape, no object with a member name twice (readers disagree on which one wins), and no deeper nesting than
/// the limit (a page of events adds two levels, and readers stop at 64).
/// </summary>
internal static class EventJsonScanner
{
    public static string? FindProblem(ReadOnlySpan<byte> json, int maxDepth)
    {
        if (!Utf8.IsValid(json))
        {
            return "the event is not valid UTF-8";
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 1024 });
        MemberNames names = MemberNames.Rent();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        if (reader.CurrentDepth + 1 > maxDepth)
                        {
                            return $"the event nests deeper than {maxDepth} levels";
                        }

                        if (reader.TokenType == JsonTokenType.StartObject)
                        {
                            names.Open();
                        }

                        break;
                    case JsonTokenType.EndObject:
                        names.Close();
                        break;
                    case JsonTokenType.PropertyName:
                        if (reader.ValueIsEscaped && !EscapesAreValidUtf16(reader.ValueSpan))
                        {
                            return "a member name holds a lone UTF-16 surrogate escape (such as \\ud800)";
                        }

                        if (!names.Add(ref reader))
                        {
                            return $"a member name appears twice in one object ('{Printable(reader.GetString()!)}')";
                        }

                        break;
                    case JsonTokenType.String:
                        if (reader.ValueIsEscaped && !EscapesAreValidUtf16(reader.ValueSpan))
                        {
                            return "a string holds a lone UTF-16 surrogate escape (such as \\ud800)";
                        }

                        break;
                }
            }
        }
        catch (JsonException)
        {
            return "the event is not valid JSON"; // already parsed once; kept so that no input can throw from here
        }
        finally
        {
            MemberNames.Return(names);
        }

        return null;
    }

    /// <summary>
    /// Whether every <c>\uXXXX</c> escape in a raw (still escaped) string forms valid UTF-16: a high surrogate followed
    /// at once by an escaped low surrogate, and no low surrogate on its own. The reader has already checked that each
    /// escape is well formed.
    /// </summary>
    internal static bool EscapesAreValidUtf16(ReadOnlySpan<byte> raw)
    {
        bool expectLow = false;
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                if (expectLow)
                {
                    return false;
                }

                continue;
            }

            byte kind = raw[i + 1];
            if (kind != (byte)'u')
            {
                if (expectLow)
                {
                    return false;
                }

                i++;
                continue;
            }

            int unit = (Hex(raw[i + 2]) << 12) | (Hex(raw[i + 3]) << 8) | (Hex(raw[i + 4]) << 4) | Hex(raw[i + 5]);
            i += 5;
            bool high = unit is >= 0xD800 and <= 0xDBFF;
            bool low = unit is >= 0xDC00 and <= 0xDFFF;
            if (expectLow)
            {
                if (!low)
                {
                    return false;
                }

                expectLow = false;
            }
            else if (low)
            {
                return false;
            }
            else if (high)
            {
                expectLow = true;
            }
        }

        return !expectLow;
    }

    private static int Hex(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        _ => b - 'A' + 10,
    };

    private static string Printable(string name) =>
        name.Length > 40 ? string.Concat(name.AsSpan(0, 40), "…") : name;
}
