using Instrumentation.Pooling;

namespace Instrumentation.Upload;

/// <summary>
/// The hand-off from recording threads to the upload loop: a lock-free bounded queue, the flag that makes only the
/// first event after the loop went to sleep pay for the wake-up, and the count of events refused when it was full.
/// Recording threads call <see cref="TryEnqueue"/>; everything else is the loop's.
/// </summary>
internal sealed class EventInbox(int capacity, AsyncSignal signal)
{
    private readonly BoundedQueue<LogEventPayload> _queue = new(capacity);
    private long _refused;
    private long _refusedReported;
    private int _wakeRequested;

    /// <summary>How many events ever entered (refused ones not included).</summary>
    public long EnqueuedCount => _queue.EnqueuedCount;

    /// <summary>Whether events wait that the loop has not taken yet.</summary>
    public bool HasWaiting => _queue.EnqueuedCount != _queue.DequeuedCount;

    /// <summary>The capacity for <paramref name="maxQueuedEvents"/>: at least <paramref name="minimum"/>, a power of two.</summary>
    public static int CapacityFor(int maxQueuedEvents, int minimum) =>
        (int)Math.Min(1 << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(maxQueuedEvents, minimum)));

    /// <summary>Hands an event over. Called on the application's thread: never blocks, never throws.</summary>
    /// <param name="payload">The event (released here when refused).</param>
    /// <param name="position">Its position in the hand-off: the loop, its only consumer, takes events in this order.</param>
    /// <returns>False when the hand-off is full (the refusal is counted).</returns>
    public bool TryEnqueue(LogEventPayload payload, out long position)
    {
        if (!_queue.TryEnqueue(payload, out position))
        {
            // The loop is not keeping up with serialization: refuse the newest rather than grow without bound.
            // (Normal bursts fit: the caps, and their oldest-batch-first policy, apply once the loop takes events.)
            Interlocked.Increment(ref _refused);
            payload.Release();
            return false;
        }

        // Only the first event after the loop went to sleep pays for the wake-up; the rest see the flag and go.
        if (Volatile.Read(ref _wakeRequested) == 0 && Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            signal.Set();
        }

        return true;
    }

    /// <summary>The loop, before a pass: the next event handed over wakes it again.</summary>
    public void Rearm()
    {
        // Order matters: re-arm the signal before clearing the flag, so a producer that sees the flag clear sets the
        // new signal, not the old one. Both are full fences: were the clearing ordered after the loop's look into the
        // queue, a producer could enqueue, still see the flag up, skip the wake-up, and its event would wait for the
        // next one.
        signal.Reset();
        Interlocked.Exchange(ref _wakeRequested, 0);
    }

    /// <summary>Takes the oldest event handed over (the loop only).</summary>
    public bool TryTake(out LogEventPayload? payload) => _queue.TryDequeue(out payload);

    /// <summary>How many events were refused since the last call (the loop reports them to the ledger).</summary>
    public int TakeRefusedCount()
    {
        long refused = Volatile.Read(ref _refused);
        int count = (int)Math.Min(int.MaxValue, refused - _refusedReported);
        _refusedReported += count;
        return count;
    }
}
