using System.Text.Json;

namespace Instrumentation;

/// <summary>
/// The payload of an event recorded by a generated call-site hook: the logged arguments plus how long the
/// call took and, when it failed, the exception's type.
/// </summary>
public abstract class MethodCallPayload : LogEventPayload
{
    private static readonly JsonEncodedText DurationName = JsonEncodedText.Encode("duration_ms");
    private static readonly JsonEncodedText ErrorName = JsonEncodedText.Encode("error");

    /// <summary>Creates the payload of a call that has not finished yet (the hook fills in the outcome).</summary>
    protected MethodCallPayload()
    {
    }

    /// <summary>Creates the payload of a finished call (for payloads built by hand, e.g. in tests).</summary>
    /// <param name="duration">How long the call took.</param>
    /// <param name="error">The full type name of the exception the call ended with, or <see langword="null"/> when it succeeded.</param>
    protected MethodCallPayload(TimeSpan duration, string? error)
    {
        Duration = duration;
        Error = error;
    }

    /// <summary>How long the call took (for <c>Task</c> and <c>ValueTask</c> methods, until the task completed).</summary>
    public TimeSpan Duration { get; private set; }

    /// <summary>The full type name of the exception the call ended with; <see langword="null"/> when it succeeded.</summary>
    public string? Error { get; private set; }

    /// <summary>When the call started, while a task-returning call is still running.</summary>
    internal long StartTimestamp { get; set; }

    /// <summary>The hub clock that read the call's start; its end is read on the same clock.</summary>
    internal HubClock? StartClock { get; set; }

    internal override void ResetEnvelope()
    {
        base.ResetEnvelope();
        Duration = default;
        Error = null;
        StartTimestamp = 0;
        StartClock = null;
    }

    /// <summary>Sets the call's outcome, just before the event is recorded.</summary>
    internal void Complete(TimeSpan duration, string? error)
    {
        Duration = duration;
        Error = error;
    }

    /// <inheritdoc />
    protected sealed override void WriteData(Utf8JsonWriter writer)
    {
        WriteArguments(writer);
        writer.WriteNumber(DurationName, Duration.TotalMilliseconds);
        if (Error is not null)
        {
            writer.WriteString(ErrorName, Error);
        }
    }

    /// <summary>Writes the logged arguments; generated for each hooked method.</summary>
    /// <param name="writer">The writer, positioned inside the <c>data</c> object.</param>
    protected abstract void WriteArguments(Utf8JsonWriter writer);
}
