using System.Collections.Concurrent;

namespace Instrumentation.Testing;

/// <summary>
/// A sink that keeps every recorded event in memory, for tests of code that records events (the counterpart of
/// OpenTelemetry's in-memory exporter).
/// </summary>
/// <example>
/// <code>
/// var sink = new InMemoryLogEventSink();
/// using (LogEventHub.Attach(sink))
/// {
///     NotebookEvents.CellExecuted("nb-1", "c7", TimeSpan.FromMilliseconds(12.5));
/// }
/// CellEvent cell = Assert.Single(sink.OfType&lt;CellEvent&gt;());
/// </code>
/// </example>
public sealed class InMemoryLogEventSink : ILogEventSink
{
    private readonly ConcurrentQueue<LogEventPayload> _events = new();

    /// <summary>A snapshot of the events received so far, in the order they arrived.</summary>
    public IReadOnlyList<LogEventPayload> Events => _events.ToArray();

    /// <summary>How many events were received.</summary>
    public int Count => _events.Count;

    /// <summary>The events of one payload type, in the order they arrived.</summary>
    /// <typeparam name="TPayload">The generated payload type.</typeparam>
    /// <returns>The matching events.</returns>
    public IReadOnlyList<TPayload> OfType<TPayload>()
        where TPayload : LogEventPayload =>
        _events.OfType<TPayload>().ToArray();

    /// <summary>Forgets every event received so far.</summary>
    public void Clear() => _events.Clear();

    /// <inheritdoc />
    public void Write(LogEventPayload payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        _events.Enqueue(payload);
    }
}
