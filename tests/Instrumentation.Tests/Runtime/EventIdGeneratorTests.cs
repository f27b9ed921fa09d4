namespace Instrumentation.Tests.Runtime;

public class EventIdGeneratorTests
{
    [Fact]
    public void Layout_follows_rfc_9562_version_7()
    {
        var timestamp = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

        Guid id = EventIdGenerator.Create(timestamp.ToUnixTimeMilliseconds(), seedHigh: 0xABC, seedLow: 0x1234, counter: 1);

        string text = id.ToString();
        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2);
        Assert.Equal(timestamp.ToUnixTimeMilliseconds().ToString("x12", System.Globalization.CultureInfo.InvariantCulture), text.Replace("-", string.Empty, StringComparison.Ordinal)[..12]);
        Assert.Equal("01a2272d-2600-7abc-8000-000000001235", text);
    }

    [Fact]
    public void Counter_carries_from_the_low_62_bits_into_the_12_bit_field()
    {
        Guid id = EventIdGenerator.Create(0, seedHigh: 0x001, seedLow: (1UL << 62) - 1, counter: 1);

        Assert.Equal("00000000-0000-7002-8000-000000000000", id.ToString());
    }

    [Fact]
    public void Ids_are_unique_and_sort_in_recording_order_within_a_millisecond()
    {
        var timestamp = DateTimeOffset.UtcNow;
        Guid[] ids = Enumerable.Range(0, 10_000).Select(_ => EventIdGenerator.Next(timestamp, out long _)).ToArray();

        Assert.Equal(ids.Length, ids.Distinct().Count());
        string[] texts = ids.Select(i => i.ToString()).ToArray();
        Assert.Equal(texts.Order(StringComparer.Ordinal), texts);
        Assert.All(ids, id => Assert.Equal(7, id.Version));
    }
}
