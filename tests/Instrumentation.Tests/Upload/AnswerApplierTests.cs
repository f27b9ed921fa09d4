using Instrumentation.Upload;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>The answer applier on its own, with the loop's real parts and no HTTP: requests are answered by hand.</summary>
public class AnswerApplierTests
{
    [Fact]
    public void A_stale_413_for_a_larger_request_does_not_raise_the_split_limit_again()
    {
        var options = new LogManagerOptions { Endpoint = new Uri("http://127.0.0.1:1/") };
        var time = new FakeTimeProvider(UploadHarness.Start);
        using var statistics = new UploadStatistics(null, () => 0);
        var ledger = new UploadLedger(statistics, replayed: 0);
        var lanes = new PendingEvents(options);
        using var requests = new InFlightRequests(new NeverSends(), time, new AsyncSignal());
        var applier = new AnswerApplier(
            options, time, NullLogger.Instance, statistics, ledger, new UploadScheduler(options, time, new Random(1)),
            lanes, new HeldBatches(), requests, durable: null, pendingCount: () => 0);
        var tooLarge = new UploadResponse(UploadOutcome.TooLarge, 413, null, [], null);

        // Two requests of 8 events in flight at once; the first is answered 413, then a half of it is answered 413 too.
        List<QueuedEvent> first = Events(lanes, ledger, 8);
        List<QueuedEvent> second = Events(lanes, ledger, 8);
        applier.Apply(new Completion(UploadKind.Batch, first, 0, tooLarge, TimeSpan.Zero));
        Assert.Equal(4, applier.SplitLimit);
        List<QueuedEvent> half = [];
        lanes.TakeBatch(half, applier.SplitLimit, long.MaxValue);
        applier.Apply(new Completion(UploadKind.Batch, half, 0, tooLarge, TimeSpan.Zero));
        Assert.Equal(2, applier.SplitLimit);

        // The second request, started before the split, is answered 413 only now.
        applier.Apply(new Completion(UploadKind.Batch, second, 0, tooLarge, TimeSpan.Zero));

        Assert.Equal(2, applier.SplitLimit); // was 4: the split events went out again in requests known to be too large
        Assert.Equal(16, lanes.BatchCount); // every event waits again, none resolved
        Assert.Equal(0, ledger.ResolvedCount);
    }

    private static List<QueuedEvent> Events(PendingEvents lanes, UploadLedger ledger, int count)
    {
        var items = new List<QueuedEvent>();
        for (int i = 0; i < count; i++)
        {
            lanes.AddToBatch(QueuedEvent.Rent(ledger.Take(), Guid.NewGuid(), "cell", Priority.Batch, "{}"u8, UploadHarness.Start));
        }

        lanes.TakeBatch(items, count, long.MaxValue);
        return items;
    }

    private sealed class NeverSends : IUploadTransport
    {
        public Task<UploadResponse> SendAsync(UploadKind kind, ReadOnlyMemory<byte> json, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("no request is sent in these tests");
    }
}
