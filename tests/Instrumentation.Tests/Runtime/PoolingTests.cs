using Instrumentation.Pooling;
using Instrumentation.Tests.Subjects;

namespace Instrumentation.Tests.Runtime;

public class PoolingTests
{
    [Fact]
    public void Bounded_queue_is_fifo_refuses_when_full_and_reports_empty()
    {
        var queue = new BoundedQueue<string>(4);

        Assert.All(new[] { "a", "b", "c", "d" }, item => Assert.True(queue.TryEnqueue(item)));
        Assert.False(queue.TryEnqueue("e"));
        Assert.True(queue.TryDequeue(out string? first));
        Assert.True(queue.TryEnqueue("e"));
        var rest = new List<string>();
        while (queue.TryDequeue(out string? item))
        {
            rest.Add(item!);
        }

        Assert.Equal("a", first);
        Assert.Equal(["b", "c", "d", "e"], rest);
        Assert.Equal(5, queue.EnqueuedCount);
        Assert.Equal(5, queue.DequeuedCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedQueue<string>(3));
    }

    [Fact]
    public async Task Bounded_queue_loses_and_duplicates_nothing_under_concurrent_producers()
    {
        const int Producers = 4;
        const int PerProducer = 50_000;
        var queue = new BoundedQueue<object>(1024);
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        object[][] items = [.. Enumerable.Range(0, Producers).Select(_ => Enumerable.Range(0, PerProducer).Select(_ => new object()).ToArray())];

        Task[] producers = [.. items.Select(batch => Task.Run(() =>
        {
            foreach (object item in batch)
            {
                while (!queue.TryEnqueue(item))
                {
                    Thread.SpinWait(10);
                }
            }
        }))];
        while (seen.Count < Producers * PerProducer)
        {
            if (queue.TryDequeue(out object? item))
            {
                Assert.True(seen.Add(item!), "an item came out twice");
            }
        }

        await Task.WhenAll(producers);
        Assert.False(queue.TryDequeue(out _));
    }

    [Fact]
    public void A_released_payload_returns_to_its_pool_with_a_clean_envelope()
    {
        var pool = new PayloadPool<WindowFocusEvent>();
        Assert.Null(pool.Rent());
        WindowFocusEvent payload = pool.Adopt(new WindowFocusEvent(true, "w"));
        payload.TryStamp(DateTimeOffset.UtcNow, activity: null);

        payload.Release();

        WindowFocusEvent? again = pool.Rent();
        Assert.Same(payload, again);
        Assert.False(again!.IsRecorded);
    }

    [Fact]
    public void Ring_deque_keeps_order_at_both_ends_and_removes_from_the_middle()
    {
        var deque = new RingDeque<int>();
        for (int i = 1; i <= 100; i++)
        {
            deque.AddLast(i); // grows past its first 64 slots
        }

        deque.AddFirst(0);
        Assert.Equal(0, deque.RemoveFirst());
        Assert.Equal(10, deque.RemoveAt(9));   // nearer the front
        Assert.Equal(90, deque.RemoveAt(88));  // nearer the back
        Assert.Equal(1, deque.RemoveAt(0));

        int[] rest = [.. Enumerable.Range(0, deque.Count).Select(i => deque[i])];
        Assert.Equal(Enumerable.Range(2, 99).Where(i => i is not 10 and not 90), rest);
    }
}
