using System.Collections;
using System.ComponentModel;

namespace Instrumentation.Serialization;

/// <summary>
/// Copies a sequence argument when an event is recorded, so the event keeps the values the method was called
/// with even if the caller changes the collection afterwards (events are written later, off the caller's
/// thread). Called by generated payload constructors; not meant to be called directly.
/// </summary>
/// <remarks>
/// Copying never throws into the application. An argument that cannot be copied (a default
/// <c>ImmutableArray&lt;T&gt;</c>, a collection whose <c>Count</c> or <c>CopyTo</c> throws, a sequence that fails while
/// being enumerated) is recorded as a <see cref="NotCapturedValues{T}"/> marker, written on the wire as the string
/// <c>"&lt;not captured: ExceptionType&gt;"</c>, and counted in <see cref="LogEventHub.NotCapturedCount"/> (the hub owns the process-wide counters).
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class EventDataSnapshot
{
    /// <summary>Copies <paramref name="values"/> into an array.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="values">The argument.</param>
    /// <param name="enumerateLazySequences">
    /// Whether a sequence that is not a materialized collection may be enumerated. Hooks pass
    /// <see langword="false"/>: enumerating a lazy sequence before the original method does could change what
    /// the program does, so such an argument is recorded as <see langword="null"/>.
    /// </param>
    /// <returns>
    /// The copy; <see langword="null"/> when the argument is null or lazy (and may not be enumerated); a
    /// <see cref="NotCapturedValues{T}"/> marker when copying it threw.
    /// </returns>
    public static IReadOnlyList<T>? Copy<T>(IEnumerable<T>? values, bool enumerateLazySequences)
    {
        try
        {
            switch (values)
            {
                case null:
                    return null;
                case T[] array:
                    return array.Length == 0 ? [] : (T[])array.Clone();
                case ICollection<T> collection:
                    var copy = new T[collection.Count];
                    collection.CopyTo(copy, 0);
                    return copy;
            }

            if (!enumerateLazySequences && values is not IReadOnlyCollection<T>)
            {
                return null;
            }

            return values.ToArray();
        }
        catch (Exception exception)
        {
            // Recording never throws into the application: the method still runs, the event says what is missing.
            LogEventHub.CountNotCaptured();
            return new NotCapturedValues<T>(exception.GetType().Name);
        }
    }
}

/// <summary>
/// Marks an argument that could not be copied when its event was recorded (see <see cref="EventDataSnapshot"/>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface INotCapturedValue
{
    /// <summary>What is written on the wire in place of the value: <c>&lt;not captured: ExceptionType&gt;</c>.</summary>
    string Marker { get; }
}

/// <summary>An empty list standing for an argument that could not be copied.</summary>
/// <typeparam name="T">The element type of the argument.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class NotCapturedValues<T> : IReadOnlyList<T>, INotCapturedValue
{
    /// <summary>Creates the marker.</summary>
    /// <param name="reason">The name of the exception that copying threw.</param>
    public NotCapturedValues(string reason)
    {
        Marker = "<not captured: " + reason + ">";
    }

    /// <inheritdoc />
    public string Marker { get; }

    /// <inheritdoc />
    public int Count => 0;

    /// <inheritdoc />
    public T this[int index] => throw new ArgumentOutOfRangeException(nameof(index));

    /// <inheritdoc />
    public IEnumerator<T> GetEnumerator() => Enumerable.Empty<T>().GetEnumerator();

    /// <inheritdoc />
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
