namespace Instrumentation.Pooling;

/// <summary>
/// A double-ended queue on a circular array that grows by doubling: adding and removing at either end allocates
/// nothing once it has grown to its working size (a linked list allocates a node per item). Not thread-safe.
/// </summary>
internal sealed class RingDeque<T>
{
    private T[] _items = new T[64];
    private int _head;

    public int Count { get; private set; }

    /// <summary>The item <paramref name="index"/> places from the front.</summary>
    public T this[int index] => _items[(_head + index) % _items.Length];

    public void AddLast(T item)
    {
        EnsureRoom();
        _items[(_head + Count) % _items.Length] = item;
        Count++;
    }

    public void AddFirst(T item)
    {
        EnsureRoom();
        _head = (_head - 1 + _items.Length) % _items.Length;
        _items[_head] = item;
        Count++;
    }

    public bool TryPeekFirst(out T? item)
    {
        item = Count > 0 ? _items[_head] : default;
        return Count > 0;
    }

    public T RemoveFirst()
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("The deque is empty.");
        }

        T item = _items[_head];
        _items[_head] = default!;
        _head = (_head + 1) % _items.Length;
        Count--;
        return item;
    }

    /// <summary>
    /// Removes the item <paramref name="index"/> places from the front, closing the gap from the nearer end: O(1) at
    /// the front (the usual victim of a cap), O(distance to an end) elsewhere.
    /// </summary>
    public T RemoveAt(int index)
    {
        if (index == 0)
        {
            return RemoveFirst();
        }

        T item = this[index];
        if (index < Count / 2)
        {
            for (int i = index; i > 0; i--)
            {
                _items[(_head + i) % _items.Length] = _items[(_head + i - 1) % _items.Length];
            }

            _items[_head] = default!;
            _head = (_head + 1) % _items.Length;
        }
        else
        {
            for (int i = index; i < Count - 1; i++)
            {
                _items[(_head + i) % _items.Length] = _items[(_head + i + 1) % _items.Length];
            }

            _items[(_head + Count - 1) % _items.Length] = default!;
        }

        Count--;
        return item;
    }

    public void Clear()
    {
        Array.Clear(_items);
        _head = 0;
        Count = 0;
    }

    private void EnsureRoom()
    {
        if (Count < _items.Length)
        {
            return;
        }

        var larger = new T[_items.Length * 2];
        for (int i = 0; i < Count; i++)
        {
            larger[i] = this[i];
        }

        _items = larger;
        _head = 0;
    }
}
