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
    public void A_sequence_that_throws_is_recorded_as_null()
    {
        static IEnumerable<int> Broken()
        {
            yield return 1;
            throw new InvalidOperationException("broken sequence");
        }

        Assert.Null(EventDataSnapshot.Copy(Broken(), enumerateLazySequences: true));
    }
}
