using System.Text.Json;
using Instrumentation.Tests.Subjects;

namespace Instrumentation.Tests;

[Collection(HubCollection.Name)]
public class PartialMethodEventTests
{
    [Fact]
    public void Calling_a_partial_method_records_a_typed_payload()
    {
        using var capture = new EventCapture();

        NotebookEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));

        CellEvent cell = Assert.Single(capture.Sink.OfType<CellEvent>());
        Assert.Equal("nb-1", cell.NotebookId);
        Assert.Equal("c7", cell.CellId);
        Assert.Equal(TimeSpan.FromMilliseconds(12.5), cell.Duration);
        Assert.Equal("cell", cell.EventType);
        Assert.Equal(Priority.Batch, cell.Priority);
        Assert.Equal(EventCapture.Start, cell.Timestamp);
        Assert.Equal(7, cell.EventId.Version);
    }

    [Fact]
    public void Wire_json_matches_the_protocol()
    {
        using var capture = new EventCapture();

        NotebookEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));

        LogEventPayload cell = Assert.Single(capture.Sink.Events);
        using JsonDocument json = JsonDocument.Parse(cell.ToJson());
        JsonElement root = json.RootElement;
        Assert.Equal(["id", "type", "priority", "timestamp", "data"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(cell.EventId, root.GetProperty("id").GetGuid());
        Assert.Equal("cell", root.GetProperty("type").GetString());
        Assert.Equal("batch", root.GetProperty("priority").GetString());
        Assert.Equal("2026-11-29T12:00:00.0000000Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("""{"notebook_id":"nb-1","cell_id":"c7","duration_ms":12.5}""", root.GetProperty("data").GetRawText());
    }

    [Fact]
    public void Immediate_event_and_default_name_in_snake_case()
    {
        using var capture = new EventCapture();

        NotebookEvents.NotebookVisited("nb-2", TimeSpan.FromSeconds(3));
        NotebookEvents.CopyPaste("nb-2", "secret clipboard", 16);

        NotebookEvent visit = Assert.Single(capture.Sink.OfType<NotebookEvent>());
        Assert.Equal(Priority.Immediate, visit.Priority);
        Assert.Contains("\"priority\":\"immediate\"", visit.ToJson(), StringComparison.Ordinal);

        CopyPasteEvent paste = Assert.Single(capture.Sink.OfType<CopyPasteEvent>());
        Assert.Equal("copy_paste", paste.EventType);
        Assert.Equal("""{"notebook_id":"nb-2","length":16}""", DataOf(paste));
        Assert.DoesNotContain("secret", paste.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_supported_type_is_written_without_reflection()
    {
        using var capture = new EventCapture();
        var guid = Guid.Parse("0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f");

        NotebookEvents.EveryType(
            flag: true, int8: -8, uint8: 8, int16: -16, uint16: 16, int32: -32, uint32: 32, int64: -64, uint64: ulong.MaxValue,
            single: 1.5f, real: double.NaN, money: 12.34m, letter: '"', guid: guid,
            when: new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), whenOffset: new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)),
            elapsed: TimeSpan.FromMilliseconds(1.25), kind: CellKind.Markdown, permissions: Permissions.Read | Permissions.Write,
            link: new Uri("https://example.test/a?b=c"), maybeCount: null, maybeKind: CellKind.Raw, note: null);

        EveryTypeEvent payload = Assert.Single(capture.Sink.OfType<EveryTypeEvent>());
        Assert.Equal(
            """"{"flag":true,"int8":-8,"uint8":8,"int16":-16,"uint16":16,"int32":-32,"uint32":32,"int64":-64,"uint64":18446744073709551615,"single":1.5,"real":"NaN","money":12.34,"letter":"\u0022","guid":"0193f5e2-7c1a-7b2e-9f3c-5d2a1b0c9e8f","when":"2026-01-02T03:04:05Z","when_offset":"2026-01-02T03:04:05+02:00","elapsed_ms":1.25,"kind":"Markdown","permissions":3,"link":"https://example.test/a?b=c","maybe_count":null,"maybe_kind":"Raw","note":null}"""",
            DataOf(payload));
    }

    [Fact]
    public void Collections_are_copied_when_recorded()
    {
        using var capture = new EventCapture();
        string[] tags = ["a", "b"];
        var kinds = new List<CellKind> { CellKind.Code };

        NotebookEvents.Collections(tags, Enumerable.Range(1, 3), kinds, [1, null], [TimeSpan.FromMilliseconds(2)]);
        tags[0] = "changed";
        kinds.Add(CellKind.Raw);

        CollectionsEvent payload = Assert.Single(capture.Sink.OfType<CollectionsEvent>());
        Assert.Equal(["a", "b"], payload.Tags!);
        Assert.Equal(
            """{"tags":["a","b"],"counts":[1,2,3],"kinds":["Code"],"sparse":[1,null],"laps_ms":[2]}""",
            DataOf(payload));
    }

    [Fact]
    public void Explicit_names_become_payload_type_names()
    {
        using var capture = new EventCapture();

        NotebookEvents.WindowFocus(true, "w1");

        WindowFocusEvent focus = Assert.Single(capture.Sink.OfType<WindowFocusEvent>());
        Assert.Equal("window-focus", focus.EventType);
        Assert.Equal("""{"focused":true,"id":"w1"}""", DataOf(focus));
    }

    [Fact]
    public void Instance_methods_in_nested_internal_types_are_supported()
    {
        using var capture = new EventCapture();

        new Outer.Inner().InnerHappened(5);

        InnerHappenedEvent inner = Assert.Single(capture.Sink.OfType<InnerHappenedEvent>());
        Assert.Equal(5, inner.Value);
        Assert.Equal(Priority.Immediate, inner.Priority);
    }

    [Fact]
    public void Trace_context_comes_from_the_current_activity()
    {
        using var capture = new EventCapture();
        using var activity = new System.Diagnostics.Activity("test").SetIdFormat(System.Diagnostics.ActivityIdFormat.W3C).Start();

        NotebookEvents.WindowFocus(false, "w2");

        LogEventPayload focus = Assert.Single(capture.Sink.Events);
        using JsonDocument json = JsonDocument.Parse(focus.ToJson());
        Assert.Equal(activity.TraceId.ToHexString(), json.RootElement.GetProperty("trace_id").GetString());
        Assert.Equal(activity.SpanId.ToHexString(), json.RootElement.GetProperty("span_id").GetString());
    }

    internal static string DataOf(LogEventPayload payload)
    {
        using JsonDocument json = JsonDocument.Parse(payload.ToJson());
        return json.RootElement.GetProperty("data").GetRawText();
    }
}
