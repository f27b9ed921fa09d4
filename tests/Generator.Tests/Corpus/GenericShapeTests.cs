namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>Issue 12: generic methods and methods of generic types are hooked with a generic hook of the same total arity.</summary>
public class GenericShapeTests
{
    [Fact]
    public void Generic_methods_and_methods_of_generic_types_are_hooked()
    {
        CorpusHarness.Build build = CorpusHarness.AssertSameOutput("a|3|x:1|5|2|hello|7|1,2,3|0", Source);

        Assert.Equal(13, CorpusHarness.InterceptedCalls(build));
        string hooks = string.Join("\n", build.GeneratedSources);
        Assert.Contains("<TItem, TResult>(this global::Repository<TItem> __self", hooks, StringComparison.Ordinal);
        Assert.Contains("where TItem : class where TResult : notnull", hooks, StringComparison.Ordinal);
    }

    private const string Source = """
        public sealed class Repository<TItem> where TItem : class
        {
            private readonly List<TItem> _items = new();

            [LogEvent(Priority.Batch)]
            public int Add([NotLogged] TItem item, string source) { _items.Add(item); return _items.Count; }

            [LogEvent(Priority.Batch)]
            public TItem? First(int skip) => _items.Skip(skip).FirstOrDefault();

            [LogEvent(Priority.Batch)]
            public TResult Project<TResult>([NotLogged] Func<TItem, TResult> selector, int index) where TResult : notnull => selector(_items[index]);

            public sealed class Cursor
            {
                [LogEvent(Priority.Batch)]
                public int Move(int by) => by * 2;
            }
        }

        public struct Box<T> where T : struct, IComparable<T>
        {
            public T Value;
            [LogEvent(Priority.Batch)]
            public int Set([NotLogged] T value, int version) { Value = value; return version; }
        }

        public static class Helpers
        {
            [LogEvent(Priority.Batch)]
            public static T Pick<T>([NotLogged] T left, [NotLogged] T right, bool takeLeft) => takeLeft ? left : right;

            [LogEvent(Priority.Batch)]
            public static TOut Convert<TIn, TOut>([NotLogged] TIn value, [NotLogged] Func<TIn, TOut> convert) where TOut : new() => convert(value);

            [LogEvent(Priority.Batch)]
            public static string JoinAll<T>([NotLogged] this IEnumerable<T> values, string separator) => string.Join(separator, values);

            [LogEvent(Priority.Batch)]
            public static async Task<T> DelayedAsync<T>([NotLogged] T value, int milliseconds)
            {
                await Task.Delay(milliseconds);
                return value;
            }

            [LogEvent(Priority.Batch)]
            public static int SizeOf<T>(int count) where T : unmanaged => System.Runtime.CompilerServices.Unsafe.SizeOf<T>() * count;
        }

        public static class Program
        {
            public static string Run()
            {
                var repository = new Repository<string>();
                repository.Add("a", "test");
                repository.Add("bb", "test");
                repository.Add("ccc", "test");
                string first = repository.First(0)!;
                int length = repository.Project(s => s.Length, 2);
                string projected = repository.Project<string>(s => "x:" + s.Length, 0);
                var box = new Box<int>();
                box.Set(5, 1);
                int moved = new Repository<string>.Cursor().Move(1);
                string picked = Helpers.Pick("hello", "world", true);
                var converted = Helpers.Convert<int, List<int>>(7, v => new List<int> { v });
                string joined = new[] { 1, 2, 3 }.JoinAll(",");
                int zero = Helpers.DelayedAsync(0, 1).Result + Helpers.SizeOf<byte>(0);
                return first + "|" + length + "|" + projected + "|" + box.Value + "|" + moved + "|" + picked + "|" + converted[0] + "|" + joined + "|" + zero;
            }
        }
        """;
}
