namespace Instrumentation;

/// <summary>
/// Scoped context fields that every event recorded inside the scope carries in its <c>context</c> object, flowing
/// with async code: <c>using (LogContext.Push("notebook_id", id)) { ... }</c>.
/// </summary>
/// <remarks>
/// The scope stack is an immutable linked list held in an <see cref="AsyncLocal{T}"/>: recording an event captures
/// a reference to the current node (no copy, no allocation), and the uploader writes the fields later. Static
/// fields for the whole process come from <c>LogManagerOptions.Context</c>; a scoped field with the same name wins.
/// </remarks>
public static class LogContext
{
    private static readonly AsyncLocal<LogContextFrame?> s_current = new();

    /// <summary>The innermost scope of the current async flow, or <see langword="null"/> when there is none.</summary>
    internal static LogContextFrame? Current => s_current.Value;

    /// <summary>Adds a field to the context of every event recorded until the returned scope is disposed.</summary>
    /// <param name="name">The field's name in the event's <c>context</c> object.</param>
    /// <param name="value">The field's value.</param>
    /// <returns>The scope; dispose it to remove the field.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static IDisposable Push(string name, string? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        LogContextFrame? parent = s_current.Value;
        var frame = new LogContextFrame(name, value, parent);
        s_current.Value = frame;
        return new Scope(frame, parent);
    }

    private sealed class Scope(LogContextFrame frame, LogContextFrame? parent) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;

            // Restores the parent only if this scope is still the innermost one in this flow (scopes disposed out of
            // order leave the newer ones in place).
            if (ReferenceEquals(s_current.Value, frame))
            {
                s_current.Value = parent;
            }
        }
    }
}

/// <summary>One scoped context field and the scope around it (immutable).</summary>
internal sealed class LogContextFrame(string name, string? value, LogContextFrame? parent)
{
    public string Name { get; } = name;

    public string? Value { get; } = value;

    public LogContextFrame? Parent { get; } = parent;
}
