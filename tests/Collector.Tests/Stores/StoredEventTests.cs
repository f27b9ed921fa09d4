using System.Text;
using Instrumentation.Collector.Storage;

namespace Instrumentation.Collector.Tests.Stores;

/// <summary>An event holds its JSON as a string or as UTF-8 bytes (slices of a request body); either form gives the other.</summary>
public sealed class StoredEventTests
{
    private const string Json = """{"id":"0194d2c4-0000-7000-8000-000000000001","type":"t\u00e9st","data":{"text":"caf\u00e9 😀"}}""";

    [Fact]
    public void The_string_and_the_UTF_8_forms_give_each_other_and_are_equal()
    {
        var id = Guid.Parse("0194d2c4-0000-7000-8000-000000000001");
        DateTimeOffset at = EventStoreContract.T0;
        byte[] body = Encoding.UTF8.GetBytes("[" + Json + "]");
        var fromString = new StoredEvent(id, "tést", "batch", at, Json);
        var fromBytes = new StoredEvent(id, "tést", "batch", at, body.AsMemory(1, body.Length - 2));

        Assert.Equal(Json, fromBytes.Json);
        Assert.Equal(Encoding.UTF8.GetBytes(Json), fromString.Utf8Json.ToArray());
        Assert.Equal(fromString, fromBytes);
        Assert.Equal(fromString.GetHashCode(), fromBytes.GetHashCode());
        Assert.NotEqual(fromString, fromString with { Json = Json.Replace("caf", "cof", StringComparison.Ordinal) });
    }

    [Fact]
    public void Empty_UTF_8_JSON_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new StoredEvent(Guid.NewGuid(), "t", "batch", EventStoreContract.T0, ReadOnlyMemory<byte>.Empty));
    }
}
