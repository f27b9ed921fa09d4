namespace Instrumentation.Spool;

/// <summary>
/// The highest commit number that is settled, published by the spool's thread and waited for by recording threads
/// (<see cref="SpoolFlushPolicy.Always"/>). Closing it releases every waiter: nobody waits for a commit that cannot come.
/// </summary>
internal sealed class CommitWatermark
{
    private readonly object _gate = new();
    private long _value;
    private bool _closed;

    public long Value => Volatile.Read(ref _value);

    /// <summary>Raises the mark to <paramref name="through"/> (never lowers it) and wakes the waiters.</summary>
    public void Publish(long through)
    {
        if (through <= Volatile.Read(ref _value))
        {
            return;
        }

        lock (_gate)
        {
            Volatile.Write(ref _value, through);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Blocks until the mark reaches <paramref name="commitNumber"/> or it is closed.</summary>
    public void WaitFor(long commitNumber)
    {
        if (Volatile.Read(ref _value) >= commitNumber)
        {
            return;
        }

        lock (_gate)
        {
            while (Volatile.Read(ref _value) < commitNumber && !_closed)
            {
                Monitor.Wait(_gate);
            }
        }
    }

    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
