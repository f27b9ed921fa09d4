using System.Text;
using Instrumentation.Collector.Ingest;

namespace Instrumentation.Collector.Tests.Validation;

/// <summary>
/// The repeated-member check without a string per name: names compared as UTF-8 in small objects, through a hash set in
/// large ones (more than 16 members), escaped and plain spellings of one name equal, and each object's names its own.
/// </summary>
public sealed class EventJsonScannerTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(500)]
    public void Distinct_names_pass_in_objects_of_any_size(int members)
    {
        Assert.Null(EventJsonScanner.FindProblem(Object(members), 32));
    }

    [Theory]
    [InlineData(3, 0)]
    [InlineData(16, 15)]
    [InlineData(17, 2)]
    [InlineData(17, 16)]
    [InlineData(500, 7)]
    [InlineData(500, 499)]
    public void A_repeated_name_is_found_in_objects_of_any_size(int members, int repeated)
    {
        Assert.Contains("twice", EventJsonScanner.FindProblem(Object(members, $"\"m{repeated}\":0"), 32), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(40)]
    public void An_escaped_spelling_of_a_name_is_the_same_name(int members)
    {
        // "\u006d1" is "m1".
        Assert.Contains("twice", EventJsonScanner.FindProblem(Object(members, "\"\\u006d1\":0"), 32), StringComparison.Ordinal);
        Assert.Contains("twice", EventJsonScanner.FindProblem(Encoding.UTF8.GetBytes("{\"\\u00e9\":1,\"\u00e9\":2}"), 32), StringComparison.Ordinal);
    }

    [Fact]
    public void Names_belong_to_their_own_object()
    {
        string nested = "{\"a\":{\"a\":{\"a\":1,\"b\":2},\"b\":[{\"a\":1},{\"a\":2}]},\"b\":{\"a\":1},\"c\":" + Encoding.UTF8.GetString(Object(30)) + ",\"d\":1}";
        Assert.Null(EventJsonScanner.FindProblem(Encoding.UTF8.GetBytes(nested), 32));

        string repeatedAfterNested = "{\"a\":{\"x\":1,\"y\":{\"z\":1}},\"b\":2,\"a\":3}";
        Assert.Contains("twice", EventJsonScanner.FindProblem(Encoding.UTF8.GetBytes(repeatedAfterNested), 32), StringComparison.Ordinal);
    }

    [Fact]
    public void Many_events_on_one_thread_share_nothing_between_scans()
    {
        for (int i = 0; i < 100; i++)
        {
            Assert.Contains("twice", EventJsonScanner.FindProblem(Object(20, "\"m3\":0"), 32), StringComparison.Ordinal);
            Assert.Null(EventJsonScanner.FindProblem(Object(20), 32));
            Assert.NotNull(EventJsonScanner.FindProblem(Encoding.UTF8.GetBytes("{\"a\":{\"b\":{\"c\":{}}}}"), 3)); // too deep: left mid-object
            Assert.Null(EventJsonScanner.FindProblem(Encoding.UTF8.GetBytes("{\"a\":1}"), 3));
        }
    }

    private static byte[] Object(int members, string? extra = null)
    {
        var json = new StringBuilder("{");
        for (int i = 0; i < members; i++)
        {
            json.Append(i == 0 ? "" : ",").Append("\"m").Append(i).Append("\":").Append(i);
        }

        if (extra is not null)
        {
            json.Append(',').Append(extra);
        }

        return Encoding.UTF8.GetBytes(json.Append('}').ToString());
    }
}
