namespace Instrumentation;

/// <summary>
/// Holds events recorded before any sink is attached, up to a fixed capacity, so that events from
/// application start-up are not lost while the pipeline is being configured.
/// </summary>
/// <remarks>
/// When full, the oldest batch event is dropped first and an immediate event only when no batch event is
/// left (the same order the upload pipeline uses); every drop is counted. Only used before a sink is
/// attached, so a lock is cheap enough.
/// </remarks>
internal sealed class PendingEventBuffer
{
    private readonly object _gate = new();
    private readonly Queue<LogEventPayload> _immediate = new();
    private readonly Queue<LogEventPayload> _batch = new();
    private readonly int _capacity;
    private long _dropped;

    public PendingEventBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _immediate.Count + _batch.Count;
            }
        }
    }

    public long DroppedCount => Interlocked.Read(ref _dropped);

    public void Add(LogEventPayload payload)
    {
        lock (_gate)
        {
            if (_immediate.Count + _batch.Count >= _capacity)
            {
                Queue<LogEventPayload> victim = _batch.Count > 0 ? _batch : _immediate;
                if (payload.Priority == Priority.Batch && victim == _immediate)
                {
                    // Only immediate events are held: the new batch event is the one to drop.
                    Interlocked.Increment(ref _dropped);
                    return;
                }

                victim.Dequeue();
                Interlocked.Increment(ref _dropped);
            }

            (payload.Priority == Priority.Immediate ? _immediate : _batch).Enqueue(payload);
        }
    }

    /// <summary>Removes and returns every held event, in the order they were recorded.</summary>
    public List<LogEventPayload> TakeAll()
    {
        lock (_gate)
        {
            var all = new List<LogEventPayload>(_immediate.Count + _batch.Count);
            all.AddRange(_immediate);
            all.AddRange(_batch);
            _immediate.Clear();
            _batch.Clear();
            all.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
            return all;
        }
    }
}
