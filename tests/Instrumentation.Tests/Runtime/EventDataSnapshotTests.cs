using Instrumentation.Serialization;

namespace Instrumentation.Tests.Runtime;

public class EventDataSnapshotTests
{
    [Fact]
    public void Arrays_and_collections_are_copied()
    {
        int[] array = [1, 2];
        var list = new List<int> { 3 };

        IReadOnlyList<int>? arrayCopy = EventDataSnapshot.Copy(array, enumerateLazySequences: false);
        IReadOnlyList<int>? listCopy = EventDataSnapshot.Copy(list, enumerateLazySequences: false);
        array[0] = 9;
        list.Add(4);

        Assert.Equal([1, 2], arrayCopy!);
        Assert.Equal([3], listCopy!);
    }

    [Fact]
    public void Lazy_sequences_are_enumerated_only_when_allowed()
    {
        int enumerations = 0;
        IEnumerable<int> Lazy()
        {
            enumerations++;
            yield return 1;
        }

        Assert.Null(EventDataSnapshot.Copy(Lazy(), enumerateLazySequences: false));
        Assert.Equal(0, enumerations);
        Assert.Equal([1], EventDataSnapshot.Copy(Lazy(), enumerateLazySequences: true)!);
        Assert.Equal(1, enumerations);
    }

    [Fact]
    public void A_sequence_that_throws_is_recorded_as_a_counted_marker()
    {
        static IEnumerable<int> Broken()
        {
            yield return 1;
            throw new InvalidOperationException("broken sequence");
        }

        long before = LogEventHub.NotCapturedCount;
        IReadOnlyList<int>? copy = EventDataSnapshot.Copy(Broken(), enumerateLazySequences: true);

        INotCapturedValue marker = Assert.IsAssignableFrom<INotCapturedValue>(copy);
        Assert.Equal("<not captured: InvalidOperationException>", marker.Marker);
        Assert.Empty(copy!);
        Assert.True(LogEventHub.NotCapturedCount > before);
    }

    [Fact]
    public void Collections_that_cannot_be_copied_never_throw()
    {
        // A default ImmutableArray throws from Count; a collection may throw from CopyTo.
        IReadOnlyList<int>? fromDefault = EventDataSnapshot.Copy(default(System.Collections.Immutable.ImmutableArray<int>), enumerateLazySequences: false);
        IReadOnlyList<int>? fromBroken = EventDataSnapshot.Copy(new BrokenCollection(), enumerateLazySequences: false);

        Assert.IsAssignableFrom<INotCapturedValue>(fromDefault);
        Assert.Equal("<not captured: NotSupportedException>", Assert.IsAssignableFrom<INotCapturedValue>(fromBroken).Marker);
    }

    private sealed class BrokenCollection : List<int>, ICollection<int>
    {
        void ICollection<int>.CopyTo(int[] array, int arrayIndex) => throw new NotSupportedException("no copy");
    }
}
