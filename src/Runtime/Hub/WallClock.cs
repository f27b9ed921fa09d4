namespace Instrumentation;

/// <summary>
/// Turns a high-resolution timestamp of a <see cref="TimeProvider"/> into the wall-clock time it was taken at, so a
/// hook that has just read the timestamp at the end of a call does not read the wall clock again (each read costs
/// ~25 ns, a sixth of the whole hook).
/// </summary>
/// <remarks>
/// The conversion counts forward from an anchor: one wall-clock reading paired with one timestamp. The anchor is
/// renewed once it is a second old, so a step of the wall clock (an NTP correction) shows within a second, and the
/// drift between the two clocks in between (at most 500 ppm under NTP slewing) stays under half a millisecond.
/// The anchor is two numbers, published under a sequence counter (a seqlock): readers never block or allocate, and
/// a reader that meets a renewal in progress just reads the wall clock itself.
/// </remarks>
internal sealed class WallClock(TimeProvider timeProvider)
{
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly long _renewAfter = timeProvider.TimestampFrequency; // one second of timestamps
    private readonly double _ticksPerTimestamp = (double)TimeSpan.TicksPerSecond / timeProvider.TimestampFrequency;

    /// <summary>Even when the anchor is stable, odd while it is being renewed; 0 before the first anchor.</summary>
    private long _version;
    private long _anchorTimestamp;
    private long _anchorUtcTicks;

    /// <summary>The wall-clock time (UTC) at which <paramref name="timestamp"/> was read.</summary>
    /// <param name="timestamp">A value of <see cref="TimeProvider.GetTimestamp"/> of this clock's provider, read just now.</param>
    public DateTimeOffset UtcAt(long timestamp)
    {
        long version = Volatile.Read(ref _version);
        long anchorTimestamp = Volatile.Read(ref _anchorTimestamp);
        long anchorUtcTicks = Volatile.Read(ref _anchorUtcTicks);
        long sinceAnchor = timestamp - anchorTimestamp;
        if (version != 0
            && (version & 1) == 0
            && Volatile.Read(ref _version) == version
            && sinceAnchor >= 0
            && sinceAnchor < _renewAfter)
        {
            return new DateTimeOffset(anchorUtcTicks + (long)(sinceAnchor * _ticksPerTimestamp), TimeSpan.Zero);
        }

        return Renew(version);
    }

    /// <summary>Reads the wall clock, and makes that reading the new anchor unless another thread is renewing it.</summary>
    private DateTimeOffset Renew(long seenVersion)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        long timestamp = _timeProvider.GetTimestamp();
        if ((seenVersion & 1) == 0 && Interlocked.CompareExchange(ref _version, seenVersion + 1, seenVersion) == seenVersion)
        {
            Volatile.Write(ref _anchorTimestamp, timestamp);
            Volatile.Write(ref _anchorUtcTicks, now.UtcTicks);
            Volatile.Write(ref _version, seenVersion + 2);
        }

        return now;
    }
}
