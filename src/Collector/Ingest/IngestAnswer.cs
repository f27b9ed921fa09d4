using System.Text.Json.Serialization;

namespace Instrumentation.Collector.Ingest;

/// <summary>The answer to an upload: how many events were accepted (stored now or already), and which were not.</summary>
/// <param name="Accepted">Events stored, or already stored under the same id.</param>
/// <param name="Rejected">Events refused, with the reason.</param>
internal sealed record IngestAnswer(
    [property: JsonPropertyName("accepted")] int Accepted,
    [property: JsonPropertyName("rejected")] IReadOnlyList<Rejection> Rejected);

/// <summary>One refused event of a request.</summary>
/// <param name="Index">Its position in the request.</param>
/// <param name="Id">Its id, when it had a readable one.</param>
/// <param name="Reason">Why it was refused.</param>
/// <param name="Retryable">Whether sending it again could succeed.</param>
internal sealed record Rejection(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("retryable")] bool Retryable);

/// <summary>Source-generated JSON for the collector's answers (no reflection).</summary>
[JsonSerializable(typeof(IngestAnswer))]
[JsonSerializable(typeof(StatsAnswer))]
internal sealed partial class CollectorJsonContext : JsonSerializerContext
{
}
