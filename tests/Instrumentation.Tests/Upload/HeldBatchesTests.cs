using System.Text;
using Instrumentation.Upload;

namespace Instrumentation.Tests.Upload;

/// <summary>Held batches on their own: what a merge may take (whole due batches, within the count and body limits).</summary>
public class HeldBatchesTests
{
    private static readonly DateTimeOffset Now = UploadHarness.Start;
    private static long s_ordinal;

    /// <summary>Events of exactly <paramref name="jsonBytes"/> bytes of JSON each.</summary>
    private static List<QueuedEvent> Events(int count, int jsonBytes = 10)
    {
        byte[] json = Encoding.UTF8.GetBytes("{\"a\":\"" + new string('x', jsonBytes - 8) + "\"}");
        Assert.Equal(jsonBytes, json.Length);
        return [.. Enumerable.Range(0, count).Select(_ => QueuedEvent.Rent(Interlocked.Increment(ref s_ordinal), Guid.NewGuid(), "cell", Priority.Batch, json, Now))];
    }

    /// <summary>The body of <c>{"events":[…]}</c> with these events, as the transport writes it.</summary>
    private static long Body(List<QueuedEvent> items) => PendingEvents.BatchBodyOverhead + Math.Max(0, items.Count - 1) + items.Sum(e => e.Json.Length);

    [Fact]
    public void A_merge_takes_whole_due_batches_only_and_never_exceeds_the_count()
    {
        var held = new HeldBatches();
        held.Hold(Events(30), attempts: 2, Now);                 // due, fits
        held.Hold(Events(50), attempts: 1, Now);                 // due, but 10 + 30 + 50 > 60
        held.Hold(Events(20), attempts: 7, Now.AddSeconds(1));   // fits, but its backoff is not over
        held.Hold(Events(15), attempts: 3, Now);                 // due, fits (10 + 30 + 15 = 55)
        List<QueuedEvent> batch = Events(10);
        var before = new HashSet<QueuedEvent>(batch);

        int attempts = held.MergeDueInto(batch, Now, maxCount: 60, maxBodyBytes: long.MaxValue);

        Assert.Equal(10 + 30 + 15, batch.Count);
        Assert.Equal(3, attempts); // the highest count among the batches merged in
        Assert.Equal(batch.Count, batch.Distinct().Count()); // every event once
        Assert.Equal(50 + 20, held.EventCount); // what stays held is still counted, once
        Assert.True(before.IsSubsetOf(batch));
    }

    [Fact]
    public void A_merge_never_exceeds_the_body_limit()
    {
        var held = new HeldBatches();
        held.Hold(Events(5, jsonBytes: 100), attempts: 1, Now);
        held.Hold(Events(4, jsonBytes: 100), attempts: 1, Now);
        List<QueuedEvent> batch = Events(5, jsonBytes: 100);
        long limit = Body([.. batch, .. Events(9, jsonBytes: 100)]) - 1; // one byte short of taking both

        held.MergeDueInto(batch, Now, maxCount: 1000, maxBodyBytes: limit);

        Assert.Equal(10, batch.Count); // the first (5) fits; the second (4) would pass the limit by a byte
        Assert.True(Body(batch) <= limit);
        Assert.Equal(4, held.EventCount);

        // Exactly at the limit, it fits.
        List<QueuedEvent> second = Events(6, jsonBytes: 100);
        held.MergeDueInto(second, Now, maxCount: 1000, maxBodyBytes: Body([.. second, .. Events(4, jsonBytes: 100)]));
        Assert.Equal(10, second.Count);
        Assert.Equal(0, held.EventCount);
        Assert.Null(held.NextDue);
    }
}
