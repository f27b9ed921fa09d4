using System.Text;
using Instrumentation.Collector.Ingest;

namespace Instrumentation.Collector.Tests.Validation;

/// <summary>
/// The id parser reads UTF-8 bytes (Utf8Parser) where it once went through a string (Guid.TryParseExact "D"): it must
/// accept exactly the canonical form and give the same Guid.
/// </summary>
public sealed class EventIdTests
{
    [Fact]
    public void Every_canonical_id_parses_to_the_Guid_it_names()
    {
        var random = new Random(11);
        Span<byte> bytes = stackalloc byte[16];
        for (int i = 0; i < 10_000; i++)
        {
            random.NextBytes(bytes);
            var expected = new Guid(bytes);
            Assert.True(EventValidator.TryParseCanonicalId(Encoding.ASCII.GetBytes(expected.ToString("D")), out Guid id));
            Assert.Equal(expected, id);
        }
    }

    [Theory]
    [InlineData("0193F5E2-7C1A-7B2E-9F3C-5D2A1B0C9E8F")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9E8f")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f ")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f0")]
    [InlineData("+193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c+5d2a1b0c9e8f")]
    [InlineData("\\u0030193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8g")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("")]
    public void Anything_else_is_refused_as_before(string text)
    {
        Assert.False(EventValidator.TryParseCanonicalId(Encoding.UTF8.GetBytes(text), out _));
        Assert.False(Guid.TryParseExact(text, "D", out Guid old) && old != Guid.Empty && text == old.ToString("D")); // the old rule
    }
}
