using System.ComponentModel;

namespace Instrumentation.Serialization;

/// <summary>
/// Copies a sequence argument when an event is recorded, so the event keeps the values the method was called
/// with even if the caller changes the collection afterwards (events are written later, off the caller's
/// thread). Called by generated payload constructors; not meant to be called directly.
/// </summary>
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
    /// <returns>The copy, or <see langword="null"/> when the argument is null, lazy (and may not be enumerated), or throws while being enumerated.</returns>
    public static IReadOnlyList<T>? Copy<T>(IEnumerable<T>? values, bool enumerateLazySequences)
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

        try
        {
            return values.ToArray();
        }
        catch (Exception)
        {
            // Recording never throws into the application; a sequence that fails to enumerate is recorded as null.
            return null;
        }
    }
}
