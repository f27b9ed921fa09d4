using System.Runtime.InteropServices;

namespace Instrumentation.Pooling;

/// <summary>
/// A fixed-capacity, lock-free, multi-producer multi-consumer queue (Dmitry Vyukov's bounded MPMC design): every
/// slot carries a sequence number that says whose turn it is. No allocation after construction, which is why the
/// recording hand-off and the payload pools use it instead of <c>ConcurrentQueue</c> (whose segments are
/// reallocated as it cycles, roughly 20 bytes per item).
/// </summary>
internal sealed class BoundedQueue<T>
    where T : class
{
    private readonly Slot[] _slots;
    private readonly long _mask;
    private PaddedCounter _enqueuePosition;
    private PaddedCounter _dequeuePosition;

    public BoundedQueue(int capacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity must be a power of two.");
        }

        _slots = new Slot[capacity];
        _mask = capacity - 1;
        for (int i = 0; i < capacity; i++)
        {
            _slots[i].Sequence = i;
        }
    }

    public int Capacity => _slots.Length;

    /// <summary>How many items were ever enqueued.</summary>
    public long EnqueuedCount => Volatile.Read(ref _enqueuePosition.Value);

    /// <summary>How many items were ever dequeued.</summary>
    public long DequeuedCount => Volatile.Read(ref _dequeuePosition.Value);

    /// <summary>Adds an item; returns false, without waiting, when the queue is full.</summary>
    public bool TryEnqueue(T item) => TryEnqueue(item, out _);

    /// <summary>Adds an item; returns false, without waiting, when the queue is full.</summary>
    /// <param name="item">The item.</param>
    /// <param name="position">Where it went: the count of items enqueued before it (a single consumer dequeues in this order).</param>
    public bool TryEnqueue(T item, out long position)
    {
        position = Volatile.Read(ref _enqueuePosition.Value);
        while (true)
        {
            ref Slot slot = ref _slots[position & _mask];
            long difference = Volatile.Read(ref slot.Sequence) - position;
            if (difference == 0)
            {
                long claimed = Interlocked.CompareExchange(ref _enqueuePosition.Value, position + 1, position);
                if (claimed == position)
                {
                    slot.Item = item;
                    Volatile.Write(ref slot.Sequence, position + 1); // publish: the slot is now the consumer's
                    return true;
                }

                position = claimed;
            }
            else if (difference < 0)
            {
                return false; // the slot still holds an item from one lap ago: full
            }
            else
            {
                position = Volatile.Read(ref _enqueuePosition.Value);
            }
        }
    }

    /// <summary>Takes the oldest item; returns false when the queue is empty (or the next item is not yet published).</summary>
    public bool TryDequeue(out T? item)
    {
        long position = Volatile.Read(ref _dequeuePosition.Value);
        while (true)
        {
            ref Slot slot = ref _slots[position & _mask];
            long difference = Volatile.Read(ref slot.Sequence) - (position + 1);
            if (difference == 0)
            {
                long claimed = Interlocked.CompareExchange(ref _dequeuePosition.Value, position + 1, position);
                if (claimed == position)
                {
                    item = slot.Item;
                    slot.Item = null;
                    Volatile.Write(ref slot.Sequence, position + _mask + 1); // free: the slot is producers' again, one lap on
                    return true;
                }

                position = claimed;
            }
            else if (difference < 0)
            {
                item = null;
                return false;
            }
            else
            {
                position = Volatile.Read(ref _dequeuePosition.Value);
            }
        }
    }

    private struct Slot
    {
        public long Sequence;
        public T? Item;
    }
}

/// <summary>A counter alone on its cache line, so producers and the consumer do not slow each other down.</summary>
/// <remarks>Outside the generic queue: a type nested in a generic type is generic, and those cannot have explicit layout.</remarks>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedCounter
{
    [FieldOffset(64)]
    public long Value;
}
