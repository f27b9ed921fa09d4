using System.Buffers;
using System.Text;
using System.Text.Json;
using Instrumentation.Serialization;

namespace Instrumentation.Tests.Runtime;

public class EventDataWriterTests
{
    [Theory]
    [InlineData(double.NaN, "\"NaN\"")]
    [InlineData(double.PositiveInfinity, "\"Infinity\"")]
    [InlineData(double.NegativeInfinity, "\"-Infinity\"")]
    [InlineData(2.5, "2.5")]
    public void Non_finite_doubles_are_written_as_strings(double value, string expected)
    {
        Assert.Equal(expected, Write(w => EventDataWriter.WriteNumberValue(w, value)));
        Assert.Equal(expected, Write(w => EventDataWriter.WriteNumberValue(w, (float)value)));
    }

    [Fact]
    public void Char_is_a_one_character_string()
    {
        Assert.Equal("\"x\"", Write(w => EventDataWriter.WriteCharValue(w, 'x')));
    }

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
