using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Runtime;

/// <summary>Hook timestamps come from the call's closing clock reading: exact, and a step of the wall clock shows within a second.</summary>
public class WallClockTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_timestamp_converts_to_the_wall_clock_time_it_was_read_at()
    {
        var time = new FakeTimeProvider(Start);
        var clock = new WallClock(time);

        Assert.Equal(Start, clock.UtcAt(time.GetTimestamp()));

        time.Advance(TimeSpan.FromMilliseconds(312.5));
        Assert.Equal(Start.AddMilliseconds(312.5), clock.UtcAt(time.GetTimestamp()));

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(Start.AddMinutes(5).AddMilliseconds(312.5), clock.UtcAt(time.GetTimestamp()));
    }

    [Fact]
    public void A_step_of_the_wall_clock_shows_within_a_second_of_timestamps()
    {
        var time = new SteppingTimeProvider();
        var clock = new WallClock(time);
        Assert.Equal(SteppingTimeProvider.Epoch, clock.UtcAt(time.GetTimestamp()));

        // NTP steps the wall clock back by an hour; the monotonic timestamps go on.
        time.StepWallClock(TimeSpan.FromHours(-1));
        time.Elapse(TimeSpan.FromMilliseconds(500));
        Assert.Equal(SteppingTimeProvider.Epoch.AddMilliseconds(500), clock.UtcAt(time.GetTimestamp()));

        time.Elapse(TimeSpan.FromMilliseconds(600));
        Assert.Equal(SteppingTimeProvider.Epoch.AddHours(-1).AddMilliseconds(1100), clock.UtcAt(time.GetTimestamp()));

        time.Elapse(TimeSpan.FromMilliseconds(10));
        Assert.Equal(SteppingTimeProvider.Epoch.AddHours(-1).AddMilliseconds(1110), clock.UtcAt(time.GetTimestamp()));
    }

    [Fact]
    public void A_timestamp_older_than_the_anchor_reads_the_wall_clock()
    {
        var time = new FakeTimeProvider(Start);
        var clock = new WallClock(time);
        long early = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(2));
        clock.UtcAt(time.GetTimestamp());

        Assert.Equal(Start.AddSeconds(2), clock.UtcAt(early));
    }

    /// <summary>A clock whose wall time can be stepped while its monotonic timestamps run on, as NTP does.</summary>
    private sealed class SteppingTimeProvider : TimeProvider
    {
        public static readonly DateTimeOffset Epoch = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

        private long _timestamp = 1_000_000;
        private TimeSpan _wallOffset;

        public override long TimestampFrequency => 1_000_000_000;

        public override long GetTimestamp() => _timestamp;

        public override DateTimeOffset GetUtcNow() => Epoch + _wallOffset + TimeSpan.FromTicks((_timestamp - 1_000_000) / 100);

        public void Elapse(TimeSpan span) => _timestamp += span.Ticks * 100;

        public void StepWallClock(TimeSpan step) => _wallOffset += step;
    }
}
