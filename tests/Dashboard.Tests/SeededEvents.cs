using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Instrumentation.Dashboard.Tests;

/// <summary>One event the tests upload, with what they expect the dashboard to show for it.</summary>
public sealed record SeededEvent(Guid Id, string Type, string Priority, DateTimeOffset Timestamp, string NetId, string CourseId, string Code)
{
    /// <summary>The event in the wire format (docs/protocol.md).</summary>
    public JsonObject ToJson() => new()
    {
        ["id"] = Id.ToString("D"),
        ["type"] = Type,
        ["priority"] = Priority,
        ["timestamp"] = Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
        ["context"] = new JsonObject { ["net_id"] = NetId, ["course_id"] = CourseId },
        ["data"] = new JsonObject { ["cell_id"] = "c" + Id.ToString("N")[..6], ["code"] = Code },
    };
}

/// <summary>
/// The known events every dashboard test starts from: within the last hour 70 <c>cell</c> (batch), 12 <c>notebook</c>
/// and 6 <c>focus</c> (immediate) events over three students and two courses, every tenth cell's code containing
/// "needle"; and 5 <c>archive</c> events two days old (outside the last hour and day, inside the last week).
/// </summary>
public static class SeededEvents
{
    public static IReadOnlyList<SeededEvent> Create(DateTimeOffset now)
    {
        var events = new List<SeededEvent>();
        int counter = 0;
        Guid NextId() => new(string.Create(CultureInfo.InvariantCulture, $"0199a000-0000-7000-8000-{++counter:x12}"));
        string[] students = ["ab123", "cd456", "ef789"];
        for (int i = 0; i < 70; i++)
        {
            events.Add(new SeededEvent(NextId(), "cell", "batch", now - TimeSpan.FromMinutes(1 + (i % 50)) - TimeSpan.FromSeconds(i), students[i % 3], i % 2 == 0 ? "cs101" : "cs102", i % 10 == 0 ? $"find_needle({i})" : $"print({i})"));
        }

        for (int i = 0; i < 12; i++)
        {
            events.Add(new SeededEvent(NextId(), "notebook", "immediate", now - TimeSpan.FromMinutes(2 + (i * 4)), students[i % 2], "cs101", "open"));
        }

        for (int i = 0; i < 6; i++)
        {
            events.Add(new SeededEvent(NextId(), "focus", "immediate", now - TimeSpan.FromMinutes(3 + (i * 7)), "ef789", "cs102", "focus"));
        }

        for (int i = 0; i < 5; i++)
        {
            events.Add(new SeededEvent(NextId(), "archive", "batch", now - TimeSpan.FromDays(2) - TimeSpan.FromMinutes(i), "zz000", "cs100", "old"));
        }

        return events;
    }

    /// <summary>Uploads the events in batches and checks every one was accepted.</summary>
    public static async Task UploadAsync(HttpClient client, IEnumerable<SeededEvent> events, CancellationToken cancellationToken)
    {
        foreach (SeededEvent[] chunk in events.Chunk(40))
        {
            var batch = new JsonObject { ["events"] = new JsonArray([.. chunk.Select(e => (JsonNode)e.ToJson())]) };
            using HttpResponseMessage response = await client.PostAsJsonAsync("logs/batch", batch, cancellationToken);
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"seeding failed: {(int)response.StatusCode} {body}");
            Assert.Contains($"\"accepted\":{chunk.Length}", body, StringComparison.Ordinal);
        }
    }
}
