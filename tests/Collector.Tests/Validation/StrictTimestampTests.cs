using System.Text;
using Instrumentation.Collector.Ingest;

namespace Instrumentation.Collector.Tests.Validation;

/// <summary>The timestamp parser on UTF-8 bytes (the ingest path) and on strings (query parameters) accepts and refuses the same texts.</summary>
public sealed class StrictTimestampTests
{
    [Theory]
    [InlineData("2026-11-29T12:00:00Z", "2026-11-29T12:00:00.0000000Z")]
    [InlineData("2026-11-29t12:00:00z", "2026-11-29T12:00:00.0000000Z")]
    [InlineData("2026-11-29T12:00:00.1Z", "2026-11-29T12:00:00.1000000Z")]
    [InlineData("2026-11-29T12:00:00.1234567Z", "2026-11-29T12:00:00.1234567Z")]
    [InlineData("2026-11-29T12:00:00.123456789Z", "2026-11-29T12:00:00.1234567Z")]
    [InlineData("2026-11-29T13:30:00+01:30", "2026-11-29T12:00:00.0000000Z")]
    [InlineData("2026-11-29T00:00:00-14:00", "2026-11-29T14:00:00.0000000Z")]
    [InlineData("2024-02-29T23:59:59.9999999+00:00", "2024-02-29T23:59:59.9999999Z")]
    [InlineData("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.0000000Z")]
    [InlineData("9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999Z")]
    public void Accepted(string text, string utc)
    {
        Assert.True(StrictTimestamp.TryParse(Encoding.UTF8.GetBytes(text), out DateTimeOffset fromBytes));
        Assert.True(StrictTimestamp.TryParse(text, out DateTimeOffset fromString));
        Assert.Equal(fromBytes, fromString);
        Assert.Equal(utc, fromBytes.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Nov 29 2026")]
    [InlineData("12:00")]
    [InlineData("2026-11-29")]
    [InlineData("2026-11-29T12:00:00")]
    [InlineData("2026-11-29T12:00Z")]
    [InlineData("2026-11-29 12:00:00Z")]
    [InlineData("2026-11-29T12:00:00.Z")]
    [InlineData("2026-11-29T12:00:00.1234567890Z")]
    [InlineData("2026-11-29T12:00:00+0100")]
    [InlineData("2026-11-29T12:00:00+01")]
    [InlineData("2026-11-29T12:00:00+14:01")]
    [InlineData("2026-11-29T12:00:00+01:60")]
    [InlineData("2026-11-29T12:00:00ZZ")]
    [InlineData("2026-11-29T12:00:00Z ")]
    [InlineData(" 2026-11-29T12:00:00Z")]
    [InlineData("2026-02-30T12:00:00Z")]
    [InlineData("2025-02-29T12:00:00Z")]
    [InlineData("2026-13-01T12:00:00Z")]
    [InlineData("2026-00-01T12:00:00Z")]
    [InlineData("0000-01-01T12:00:00Z")]
    [InlineData("2026-11-29T24:00:00Z")]
    [InlineData("2026-11-29T12:60:00Z")]
    [InlineData("2026-11-29T12:00:60Z")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("9999-12-31T23:59:59-01:00")]
    [InlineData("2026-11-29T12:00:00.\u0661Z")]
    [InlineData("\u0662026-11-29T12:00:00Z")]
    [InlineData("+2026-11-29T12:00:00Z")]
    [InlineData("2026-11-29T12:00:00\u2212" + "01:00")]
    public void Refused(string text)
    {
        Assert.False(StrictTimestamp.TryParse(Encoding.UTF8.GetBytes(text), out _));
        Assert.False(StrictTimestamp.TryParse(text, out _));
    }
}
