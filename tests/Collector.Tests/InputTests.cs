using System.Net;
using System.Text;
using System.Text.Json;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// Input an attacker (or a broken client) sends, over real HTTP: each answer is 4xx with a reason (a problem body, or a
/// per-event rejection that keeps the batch's valid events), never 5xx, and whatever was stored reads back.
/// </summary>
public class InputTests
{
    private const string Good = "2026-11-29T12:00:00.0000000Z";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> LoneSurrogates => new()
    {
        { "type", Raw(type: "cell\\ud800") },
        { "id", "{\"id\":\"\\ud800\",\"type\":\"cell\",\"priority\":\"batch\",\"timestamp\":\"" + Good + "\",\"data\":{}}" },
        { "timestamp", Raw(timestamp: "2026-11-29T12:00:00Z\\ud800") },
        { "priority", Raw(priority: "batch\\ud800") },
        { "data value", Raw(data: "{\"text\":\"a\\udc00b\"}") },
        { "data high then text", Raw(data: "{\"text\":\"a\\ud83dxyz\"}") },
        { "data high then high", Raw(data: "{\"text\":\"\\ud83d\\ud83d\"}") },
        { "member name", Raw(data: "{\"\\ud800\":1}") },
        { "context", Raw(extra: ",\"context\":{\"net_id\":\"\\udfff\"}") },
        { "nested array", Raw(data: "{\"list\":[[\"ok\",\"\\ud800\"]]}") },
    };

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public async Task A_lone_surrogate_escape_rejects_its_event_and_keeps_the_others(string where, string bad)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        Guid good1 = Guid.CreateVersion7(), good2 = Guid.CreateVersion7();

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(good1), bad, TestCollector.Event(good2)));

        JsonElement rejected = await AssertOneRejectedAsync(response, 1);
        string reason = rejected.GetProperty("reason").GetString()!;
        Assert.True(reason.Contains("surrogate", StringComparison.Ordinal), $"a lone surrogate in the {where}: rejected for '{reason}'");
        Assert.Equal(new[] { good1, good2 }.Order(), (await collector.Running.Store.CountByIdAsync()).Keys.Order());
        Assert.Equal(2, await ReadBackAsync(collector));
    }

    [Fact]
    public async Task A_valid_surrogate_pair_is_stored_and_read_back()
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs", Raw(data: "{\"emoji\":\"\\ud83d\\ude00\",\"plain\":\"\u00e9\"}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement page = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs", Cancel));
        JsonElement data = Assert.Single(page.GetProperty("events").EnumerateArray()).GetProperty("data");
        Assert.Equal("\U0001F600", data.GetProperty("emoji").GetString());
        Assert.Equal("\u00e9", data.GetProperty("plain").GetString());
    }

    [Theory]
    [InlineData("in a data value", "{\"text\":\"a@b\"}", new byte[] { 0xFF })]
    [InlineData("overlong encoding", "{\"text\":\"a@b\"}", new byte[] { 0xC0, 0xAF })]
    [InlineData("UTF-8 encoded surrogate", "{\"text\":\"a@b\"}", new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData("truncated sequence", "{\"text\":\"a@\"}", new byte[] { 0xE2, 0x82 })]
    [InlineData("in a member name", "{\"a@\":1}", new byte[] { 0x80 })]
    public async Task Invalid_UTF8_rejects_its_event_and_keeps_the_others(string where, string data, byte[] bytes)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        Guid good1 = Guid.CreateVersion7(), good2 = Guid.CreateVersion7();
        string text = TestCollector.Batch(TestCollector.Event(good1), Raw(data: data), TestCollector.Event(good2));
        int at = text.IndexOf('@', StringComparison.Ordinal);
        byte[] body = [.. Encoding.UTF8.GetBytes(text[..at]), .. bytes, .. Encoding.UTF8.GetBytes(text[(at + 1)..])];

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using HttpResponseMessage response = await collector.Client.PostAsync("/logs/batch", content, Cancel);

        JsonElement rejected = await AssertOneRejectedAsync(response, 1);
        string reason = rejected.GetProperty("reason").GetString()!;
        Assert.True(reason.Contains("UTF-8", StringComparison.Ordinal), $"invalid UTF-8 {where}: rejected for '{reason}'");
        Assert.Equal(2, await ReadBackAsync(collector));
    }

    [Theory]
    [InlineData(31, true)] // the event at depth 32, the limit: stored, and a page of it (two levels more) reads back
    [InlineData(32, false)]
    [InlineData(61, false)] // just under the default JSON reader limit of 64: the issue's poison event
    public async Task Nesting_deeper_than_the_limit_is_rejected_so_every_stored_event_reads_back(int levels, bool accepted)
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage objects = await collector.PostAsync("/logs/batch", TestCollector.Batch(Raw(data: Nested(levels, array: false)), TestCollector.Event(Guid.CreateVersion7())));
        using HttpResponseMessage arrays = await collector.PostAsync("/logs/batch", TestCollector.Batch(Raw(data: Nested(levels, array: true)), TestCollector.Event(Guid.CreateVersion7())));

        foreach (HttpResponseMessage response in new[] { objects, arrays })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            JsonElement answer = await TestCollector.JsonOf(response);
            Assert.Equal(accepted ? 2 : 1, answer.GetProperty("accepted").GetInt32());
            if (!accepted)
            {
                Assert.Contains("deeper than 32", answer.GetProperty("rejected")[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
            }
        }

        Assert.Equal(accepted ? 4 : 2, await ReadBackAsync(collector));
    }

    [Fact]
    public async Task A_body_nested_beyond_what_the_parser_takes_is_400()
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(Raw(data: Nested(400, array: true))));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(0, await ReadBackAsync(collector));
    }

    [Theory]
    [InlineData("id")]
    [InlineData("type")]
    [InlineData("priority")]
    [InlineData("timestamp")]
    [InlineData("data")]
    public async Task Every_required_field_is_enforced(string missing)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var fields = new Dictionary<string, string>
        {
            ["id"] = $"\"{Guid.CreateVersion7()}\"",
            ["type"] = "\"cell\"",
            ["priority"] = "\"batch\"",
            ["timestamp"] = $"\"{Good}\"",
            ["data"] = "{}",
        };
        fields.Remove(missing);
        string bad = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";

        using HttpResponseMessage batch = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7()), bad));
        using HttpResponseMessage single = await collector.PostAsync("/logs", bad);

        JsonElement rejected = await AssertOneRejectedAsync(batch, 1);
        Assert.Contains($"'{missing}'", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await TestCollector.JsonOf(single)).GetProperty("accepted").GetInt32());
        Assert.Equal(1, await ReadBackAsync(collector));
    }

    [Theory]
    [InlineData("Nov 29 2026")]
    [InlineData("12:00")]
    [InlineData("2026-11-29")]
    [InlineData("2026-11-29T12:00:00")] // no offset: the server's zone must not fill the gap
    [InlineData("2026-11-29 12:00:00Z")]
    [InlineData("2026-11-29T12:00Z")]
    [InlineData("2026-13-01T00:00:00Z")]
    [InlineData("2026-02-29T00:00:00Z")]
    [InlineData("2026-11-29T24:00:00Z")]
    [InlineData("2026-11-29T12:00:60Z")]
    [InlineData("2026-11-29T12:00:00+15:00")]
    [InlineData("2026-11-29T12:00:00+0100")]
    [InlineData("0001-01-01T00:00:00+01:00")] // before the first representable instant once in UTC
    [InlineData("2026-11-29T12:00:00.Z")]
    [InlineData("2026-11-29T12:00:00.1234567890Z")]
    [InlineData("\uff12\uff10\uff12\uff16-11-29T12:00:00Z")] // full-width digits
    [InlineData("2026-11-29T12:00:00Z ")]
    [InlineData("")]
    public async Task Timestamps_must_be_ISO_8601_with_an_offset(string timestamp)
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7(), timestamp: timestamp), TestCollector.Event(Guid.CreateVersion7())));

        JsonElement rejected = await AssertOneRejectedAsync(response, 0);
        Assert.Contains("'timestamp'", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await ReadBackAsync(collector));
    }

    [Theory]
    [InlineData("2026-11-29T12:00:00Z")]
    [InlineData("2026-11-29T12:00:00.5z")]
    [InlineData("2026-11-29T13:00:00.5+01:00")]
    [InlineData("2026-11-29T07:00:00.500000000-05:00")]
    public async Task Timestamps_with_an_offset_are_stored_at_their_instant(string timestamp)
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs", TestCollector.Event(Guid.CreateVersion7(), timestamp: timestamp));

        Assert.Equal(1, (await TestCollector.JsonOf(response)).GetProperty("accepted").GetInt32());
        JsonElement inRange = await TestCollector.JsonOf(await collector.Client.GetAsync("/logs?since=2026-11-29T12:00:00Z&until=2026-11-29T12:00:01Z", Cancel));
        Assert.Single(inRange.GetProperty("events").EnumerateArray());
    }

    [Theory]
    [InlineData("0193F5E2-7C1A-7B2E-9F3C-5D2A1B0C9E8F")]
    [InlineData("{0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f}")]
    [InlineData("(0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f)")]
    [InlineData("0193f5e27c1a7b2e9f3c5d2a1b0c9e8f")]
    [InlineData(" 0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f")]
    [InlineData("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("0193f5e2_7c1a_7b2e_9f3c_5d2a1b0c9e8f")]
    public async Task Non_canonical_ids_are_refused(string id)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        string bad = $"{{\"id\":\"{id}\",\"type\":\"cell\",\"priority\":\"batch\",\"timestamp\":\"{Good}\",\"data\":{{}}}}";

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(bad, TestCollector.Event(Guid.CreateVersion7())));

        JsonElement rejected = await AssertOneRejectedAsync(response, 0);
        Assert.Contains("canonical", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await ReadBackAsync(collector));
    }

    [Theory]
    [InlineData("{\"id\":\"#\",\"type\":\"cell\",\"type\":\"other\",\"priority\":\"batch\",\"timestamp\":\"T\",\"data\":{}}")]
    [InlineData("{\"id\":\"#\",\"type\":\"cell\",\"priority\":\"batch\",\"timestamp\":\"T\",\"data\":{\"x\":1,\"x\":2}}")]
    [InlineData("{\"id\":\"#\",\"type\":\"cell\",\"priority\":\"batch\",\"timestamp\":\"T\",\"data\":{\"x\":1,\"\\u0078\":2}}")]
    [InlineData("{\"id\":\"#\",\"\\u0069d\":\"#\",\"type\":\"cell\",\"priority\":\"batch\",\"timestamp\":\"T\",\"data\":{}}")]
    public async Task A_member_name_twice_in_one_object_is_refused(string template)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        string bad = template.Replace("#", Guid.CreateVersion7().ToString(), StringComparison.Ordinal).Replace("\"T\"", $"\"{Good}\"", StringComparison.Ordinal);

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(bad, TestCollector.Event(Guid.CreateVersion7())));

        JsonElement rejected = await AssertOneRejectedAsync(response, 0);
        Assert.Contains("twice", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type", "\"cell\\u0000\"")]
    [InlineData("type", "\"   \"")]
    [InlineData("type", "42")]
    [InlineData("priority", "\"Immediate\"")]
    [InlineData("data", "null")]
    [InlineData("data", "\"text\"")]
    [InlineData("context", "{\"a\":1}")]
    [InlineData("trace_id", "\"not-hex\"")]
    [InlineData("span_id", "\"00F067AA0BA902B7\"")]
    public async Task Fields_of_the_wrong_shape_are_refused(string field, string value)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        var fields = new Dictionary<string, string>
        {
            ["id"] = $"\"{Guid.CreateVersion7()}\"",
            ["type"] = "\"cell\"",
            ["priority"] = "\"batch\"",
            ["timestamp"] = $"\"{Good}\"",
            ["data"] = "{}",
        };
        fields[field] = value;
        string bad = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", TestCollector.Batch(bad, TestCollector.Event(Guid.CreateVersion7())));

        JsonElement rejected = await AssertOneRejectedAsync(response, 0);
        Assert.Contains($"'{field}'", rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"events\":[")]
    [InlineData("{\"events\":[]} trailing")]
    [InlineData("\"just a string\"")]
    [InlineData("{\"events\":null}")]
    public async Task Bodies_that_are_not_a_batch_are_400_problems(string body)
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.PostAsync("/logs/batch", body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/logs?since=12:00")]
    [InlineData("/logs?until=Nov%2029%202026")]
    [InlineData("/logs?limit=99999999999999")]
    [InlineData("/logs?limit=-1")]
    [InlineData("/logs?cursor=1-2-3")]
    [InlineData("/logs?cursor=%ED%A0%80")]
    public async Task Bad_query_parameters_are_400_problems(string path)
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage response = await collector.Client.GetAsync(path, Cancel);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Odd_query_values_and_unknown_paths_answer_without_5xx()
    {
        await using TestCollector collector = await TestCollector.StartAsync();

        using HttpResponseMessage surrogateType = await collector.Client.GetAsync("/logs?type=%ED%A0%80", Cancel);
        using HttpResponseMessage unknown = await collector.Client.GetAsync("/admin", Cancel);
        using HttpResponseMessage wrongMethod = await collector.Client.DeleteAsync("/logs", Cancel);

        Assert.Equal(HttpStatusCode.OK, surrogateType.StatusCode);
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound);
        await AssertProblemAsync(wrongMethod, HttpStatusCode.MethodNotAllowed);
    }

    internal static string Raw(string type = "cell", string timestamp = Good, string priority = "batch", string data = "{}", string extra = "") =>
        $"{{\"id\":\"{Guid.CreateVersion7()}\",\"type\":\"{type}\",\"priority\":\"{priority}\",\"timestamp\":\"{timestamp}\",\"data\":{data}{extra}}}";

    private static string Nested(int levels, bool array)
    {
        var text = new StringBuilder();
        for (int i = 0; i < levels; i++)
        {
            text.Append(array ? (i == 0 ? "{\"a\":" : "[") : "{\"a\":");
        }

        text.Append('1');
        for (int i = levels - 1; i >= 0; i--)
        {
            text.Append(array ? (i == 0 ? "}" : "]") : "}");
        }

        return text.ToString();
    }

    private static async Task<JsonElement> AssertOneRejectedAsync(HttpResponseMessage response, int index)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement answer = await TestCollector.JsonOf(response);
        JsonElement rejected = Assert.Single(answer.GetProperty("rejected").EnumerateArray());
        Assert.Equal(index, rejected.GetProperty("index").GetInt32());
        Assert.False(rejected.GetProperty("retryable").GetBoolean());
        return rejected;
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = await TestCollector.JsonOf(response);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
    }

    /// <summary>Every stored event reads back through GET /logs (a strict parse of the page) and /stats answers.</summary>
    internal static async Task<int> ReadBackAsync(TestCollector collector)
    {
        using HttpResponseMessage page = await collector.Client.GetAsync("/logs?limit=1000", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        byte[] body = await page.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.True(System.Text.Unicode.Utf8.IsValid(body), "the page is not valid UTF-8");
        using JsonDocument document = JsonDocument.Parse(body);
        foreach (JsonElement item in document.RootElement.GetProperty("events").EnumerateArray())
        {
            _ = JsonSerializer.Serialize(item); // re-serializes every string: throws on anything a reader cannot take
        }

        using HttpResponseMessage stats = await collector.Client.GetAsync("/stats", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        collector.AssertNoErrorsLogged();
        return document.RootElement.GetProperty("events").GetArrayLength();
    }
}
