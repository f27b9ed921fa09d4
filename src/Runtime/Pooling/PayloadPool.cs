using System.ComponentModel;

namespace Instrumentation.Pooling;

/// <summary>
/// Reuses the payload objects of generated events, so that recording allocates nothing in steady state. Generated
/// code rents a payload, fills it and records it; the uploader returns it after writing its JSON. Payloads that
/// anything else keeps (an in-memory sink, code that built them by hand) are never returned.
/// Not meant to be used directly.
/// </summary>
/// <typeparam name="T">The generated payload type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class PayloadPool<T>
    where T : LogEventPayload
{
    private readonly BoundedQueue<T> _free = new(1024);

    /// <summary>A payload to fill, or <see langword="null"/> when none is free (the caller creates one).</summary>
    /// <returns>A payload marked as pooled, or null.</returns>
    public T? Rent()
    {
        if (_free.TryDequeue(out T? payload))
        {
            return payload;
        }

        return null;
    }

    /// <summary>Marks a new payload as belonging to this pool (it comes back here when released).</summary>
    /// <param name="payload">A payload the caller just created.</param>
    /// <returns>The same payload.</returns>
    public T Adopt(T payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        payload.ReturnAction = static (pool, item) => ((PayloadPool<T>)pool)._free.TryEnqueue((T)item);
        payload.Pool = this;
        return payload;
    }
}
