namespace Instrumentation.Upload;

/// <summary>
/// Which ordinals are resolved, as a sliding window of flags from the oldest unresolved ordinal on: flushes ask for
/// that oldest one. Events resolve mostly in order, so the window stays short; it grows (doubling, never per event)
/// only while old events are still pending. Used only by the ledger, on the loop.
/// </summary>
internal sealed class ResolutionWindow
{
    private bool[] _resolved = new bool[1024];
    private int _head;

    /// <summary>The oldest ordinal not yet resolved (ordinals start at 1).</summary>
    public long OldestUnresolved { get; private set; } = 1;

    public void Resolve(long ordinal)
    {
        long offset = ordinal - OldestUnresolved;
        if (offset < 0)
        {
            return; // already behind the window: resolved before
        }

        while (offset >= _resolved.Length)
        {
            Grow();
        }

        _resolved[(int)((_head + offset) % _resolved.Length)] = true;
        while (_resolved[_head])
        {
            _resolved[_head] = false;
            _head = (_head + 1) % _resolved.Length;
            OldestUnresolved++;
        }
    }

    /// <summary>Whether <paramref name="ordinal"/> is resolved.</summary>
    public bool IsResolved(long ordinal)
    {
        long offset = ordinal - OldestUnresolved;
        if (offset < 0)
        {
            return true;
        }

        return offset < _resolved.Length && _resolved[(int)((_head + offset) % _resolved.Length)];
    }

    private void Grow()
    {
        var larger = new bool[_resolved.Length * 2];
        for (int i = 0; i < _resolved.Length; i++)
        {
            larger[i] = _resolved[(_head + i) % _resolved.Length];
        }

        _resolved = larger;
        _head = 0;
    }
}
