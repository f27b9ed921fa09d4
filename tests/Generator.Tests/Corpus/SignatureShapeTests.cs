namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>
/// Issue 12, lists 1 and 2: shapes of hooked methods that used to give errors or warnings inside generated code. Each
/// consumer compiles with nullable enabled and warnings as errors; where the shape is hooked, its output is the same with
/// and without the generator.
/// </summary>
public class SignatureShapeTests
{
    [Fact]
    public void Readonly_structs_and_readonly_members_are_hooked() => _ = CorpusHarness.AssertSameOutput("3,4,5", """
        public readonly struct Money
        {
            public Money(int cents) { Cents = cents; }
            public int Cents { get; }
            [LogEvent(Priority.Batch)] public int Add(int more) => Cents + more;
        }

        public struct Counter
        {
            public int Value;
            [LogEvent(Priority.Batch)] public readonly int Peek(int offset) => Value + offset;
            [LogEvent(Priority.Batch)] public int Bump(int by) { Value += by; return Value; }
        }

        public static class Program
        {
            public static string Run()
            {
                var money = new Money(1);
                var counter = new Counter { Value = 1 };
                ref readonly Counter view = ref counter;
                int peek = view.Peek(3);
                counter.Bump(4);
                return money.Add(2) + "," + peek + "," + counter.Value;
            }
        }
        """);

    [Fact]
    public void Ref_and_ref_readonly_returns_are_hooked() => _ = CorpusHarness.AssertSameOutput("7,9", """
        public sealed class Store
        {
            private readonly int[] _slots = new int[4];
            [LogEvent(Priority.Batch)] public ref int Slot(int index) => ref _slots[index];
            [LogEvent(Priority.Batch)] public ref readonly int Read(int index) => ref _slots[index];
        }

        public static class Program
        {
            public static string Run()
            {
                var store = new Store();
                store.Slot(1) = 7;
                ref int slot = ref store.Slot(2);
                slot = 9;
                return store.Read(1) + "," + store.Read(2);
            }
        }
        """);

    [Fact]
    public void Scoped_parameters_are_hooked() => _ = CorpusHarness.AssertSameOutput("6,2", """
        public static class Parser
        {
            [LogEvent(Priority.Batch)] public static int Sum([NotLogged] scoped ReadOnlySpan<int> values, string label)
            {
                int sum = 0;
                foreach (int v in values) sum += v;
                return sum;
            }

            [LogEvent(Priority.Batch)] public static void Next(scoped ref int position, int step) => position += step;
        }

        public static class Program
        {
            public static string Run()
            {
                Span<int> values = stackalloc int[] { 1, 2, 3 };
                int position = 0;
                Parser.Next(ref position, 2);
                return Parser.Sum(values, "abc") + "," + position;
            }
        }
        """);

    [Fact]
    public void Pointer_and_function_pointer_parameters_are_hooked_in_unsafe_code() => _ = CorpusHarness.AssertSameOutput("5,8", """
        public static unsafe class Native
        {
            [LogEvent(Priority.Batch)] public static int Read([NotLogged] int* pointer, int offset) => pointer[offset];
            [LogEvent(Priority.Batch)] public static int Apply([NotLogged] delegate*<int, int> function, int value) => function(value);
            public static int Double(int x) => x * 2;
        }

        public static unsafe class Program
        {
            public static string Run()
            {
                int* values = stackalloc int[] { 4, 5 };
                return Native.Read(values, 1) + "," + Native.Apply(&Native.Double, 4);
            }
        }
        """);

    [Fact]
    public void Parameters_named_like_the_hook_locals_are_hooked() => _ = CorpusHarness.AssertSameOutput("15", """
        public sealed class Clash
        {
            [LogEvent(Priority.Batch)]
            public int Mix(int __self, int __payload, int __start, int __result, int __exception) => __self + __payload + __start + __result + __exception;
        }

        public static class Program
        {
            public static string Run() => new Clash().Mix(1, 2, 3, 4, 5).ToString();
        }
        """);

    [Fact]
    public void Names_with_newlines_and_angle_brackets_are_escaped()
    {
        CorpusHarness.Build build = CorpusHarness.AssertClean("""
            public static partial class Events
            {
                [LogEvent(Priority.Batch, Name = "line\nbreak<T> & \"quoted\" */ end")] public static partial void Odd(int value);
            }

            public sealed class Work
            {
                [LogEvent(Priority.Batch, Name = "<work>\r\n")] public int Do(int value) => value;
                public int Call() => Do(1);
            }
            """);
        Assert.Equal(1, CorpusHarness.InterceptedCalls(build));
    }

    [Fact]
    public void Nullable_task_returns_and_nullability_attributes_are_hooked() => _ = CorpusHarness.AssertSameOutput("null,ok,True:x,False,5", """
        public sealed class Cache
        {
            [LogEvent(Priority.Batch)] public Task? MaybeRun(bool run) => run ? Task.CompletedTask : null;
            [LogEvent(Priority.Batch)] public Task<string>? MaybeGet(bool run) => run ? Task.FromResult("ok") : null;
            [LogEvent(Priority.Batch)] public bool TryGet(string key, [NotNullWhen(true)] out string? value)
            {
                value = key == "a" ? "x" : null;
                return value is not null;
            }
            [LogEvent(Priority.Batch)] public int Length([DisallowNull] string? text) => text.Length;
            [LogEvent(Priority.Batch)] [return: MaybeNull] public string Find(int id) => id > 0 ? "found" : null!;
        }

        public static class Program
        {
            public static string Run()
            {
                var cache = new Cache();
                string a = cache.MaybeRun(false) is null ? "null" : "task";
                string b = cache.MaybeGet(true)!.Result;
                string c = cache.TryGet("a", out string? v) ? "True:" + v.Length.ToString().Replace("1", "x") : "False";
                string d = cache.TryGet("b", out _) ? "True" : "False";
                return a + "," + b + "," + c + "," + d + "," + cache.Length("hello");
            }
        }
        """);

    [Fact]
    public void Obsolete_and_trimming_annotated_methods_are_hooked()
    {
        CorpusHarness.Build build = CorpusHarness.AssertClean("""
            public sealed class Legacy
            {
                [Obsolete("use New")] [LogEvent(Priority.Batch)] public int Old(int value) => value;
                [Obsolete("gone", true)] [LogEvent(Priority.Batch)] public int Gone(int value) => value;
                [RequiresUnreferencedCode("reflects")] [LogEvent(Priority.Batch)] public string Reflect(string name) => name;
                [RequiresDynamicCode("emits")] [LogEvent(Priority.Batch)] public string Emit(string name) => name;
            }

            [Obsolete("old type")]
            public sealed class OldType
            {
                [LogEvent(Priority.Batch)] public int Work(int value) => value;
            }

            public static class Program
            {
            #pragma warning disable CS0618
                public static int Run() => new Legacy().Old(1) + new OldType().Work(2);
            #pragma warning restore CS0618

                [RequiresUnreferencedCode("calls Reflect")]
                [RequiresDynamicCode("calls Emit")]
                public static string Trimmed() => new Legacy().Reflect("a") + new Legacy().Emit("b");
            }
            """);
        Assert.Equal(4, CorpusHarness.InterceptedCalls(build));

        // The trimming analyzer is not part of an in-memory build: check that the hooks carry what silences IL2026/IL3050.
        string hooks = build.GeneratedSources.Single(g => g.Contains("InterceptsLocation(1,", StringComparison.Ordinal));
        Assert.Contains("[global::System.Diagnostics.CodeAnalysis.RequiresUnreferencedCodeAttribute(\"reflects\")]", hooks, StringComparison.Ordinal);
        Assert.Contains("[global::System.Diagnostics.CodeAnalysis.RequiresDynamicCodeAttribute(\"emits\")]", hooks, StringComparison.Ordinal);
        Assert.Contains("[global::System.ObsoleteAttribute(\"old type\")]", hooks, StringComparison.Ordinal);
    }

    [Fact]
    public void Interface_default_methods_and_class_constrained_type_parameters_are_hooked() => _ = CorpusHarness.AssertSameOutput("hi ada,hi bob,2", """
        public interface IGreeter
        {
            string Prefix { get; }
            [LogEvent(Priority.Batch)] public string Greet(string name) => Prefix + " " + name;
        }

        public sealed class Greeter : IGreeter
        {
            public string Prefix => "hi";
            public int Calls;
        }

        public static class Program
        {
            private static string Twice<T>(T greeter) where T : class, IGreeter => greeter.Greet("bob");

            public static string Run()
            {
                IGreeter greeter = new Greeter();
                return greeter.Greet("ada") + "," + Twice(new Greeter()) + "," + 2;
            }
        }
        """);

    [Fact]
    public void Parameters_named_like_payload_members_are_renamed_not_hidden() => CorpusHarness.AssertClean("""
        public sealed class Clash
        {
            [LogEvent(Priority.Batch)]
            public int Members(int eventType, int priority, int eventId, int timestamp, int traceId, int spanId, int isRecorded, int startTimestamp, int writeArguments, int toJson) => eventType;

            public int Call() => Members(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        }

        public static partial class Events
        {
            [LogEvent(Priority.Batch)] public static partial void Recorded(int eventType, int writeData, int timestamp, int duration, int error, int reset);
        }
        """);
}
