namespace Instrumentation;

/// <summary>
/// Receives recorded events from <see cref="LogEventHub"/>: the upload pipeline, or
/// <see cref="Testing.InMemoryLogEventSink"/> in tests.
/// </summary>
/// <remarks>
/// <see cref="Write"/> runs on the application's thread, inside the generated hook: it must hand the event
/// over and return (no I/O, no serialization, no waiting). An exception it throws is caught and counted by
/// the hub, never passed to the application.
/// </remarks>
public interface ILogEventSink
{
    /// <summary>Takes one recorded (stamped) event.</summary>
    /// <param name="payload">The event.</param>
    void Write(LogEventPayload payload);
}
