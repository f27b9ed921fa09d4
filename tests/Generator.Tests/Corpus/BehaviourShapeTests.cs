using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>
/// Issue 12, list 3: hooking must not change what the program does. Each consumer runs with and without the generator
/// and must print the same; shapes that cannot be hooked without a change are refused with a diagnostic.
/// </summary>
public class BehaviourShapeTests
{
    [Fact]
    public void Caller_exception_filters_run_before_the_callee_finally_as_without_the_hook() =>
        _ = CorpusHarness.AssertSameOutput("filter,finally,caught", """
            public sealed class Worker
            {
                private readonly StringBuilder _log;
                public Worker(StringBuilder log) { _log = log; }

                [LogEvent(Priority.Batch)]
                public int Fail(int code)
                {
                    try { throw new InvalidOperationException("boom " + code); }
                    finally { _log.Append("finally,"); }
                }
            }

            public static class Program
            {
                public static string Run()
                {
                    var log = new StringBuilder();
                    try { new Worker(log).Fail(1); }
                    catch (InvalidOperationException) when (Log(log, "filter,")) { log.Append("caught"); }
                    return log.ToString();
                }

                private static bool Log(StringBuilder log, string text) { log.Append(text); return true; }
            }
            """);

    [Fact]
    public void Arguments_that_cannot_be_copied_do_not_stop_the_call() =>
        _ = CorpusHarness.AssertSameOutput("ran:0,ran:3,ran:-1", """
            public sealed class BrokenList : ICollection<int>
            {
                public int Count => 3;
                public bool IsReadOnly => true;
                public void Add(int item) => throw new NotSupportedException();
                public void Clear() => throw new NotSupportedException();
                public bool Contains(int item) => false;
                public void CopyTo(int[] array, int arrayIndex) => throw new InvalidOperationException("no copy");
                public bool Remove(int item) => false;
                public IEnumerator<int> GetEnumerator() { yield return 1; yield return 2; yield return 3; }
                System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
            }

            public static class Batches
            {
                [LogEvent(Priority.Batch)] public static string Send(ImmutableArray<int> ids) => "ran:" + (ids.IsDefault ? 0 : ids.Length);
                [LogEvent(Priority.Batch)] public static string Push(ICollection<int> ids) => "ran:" + ids.Count;
                [LogEvent(Priority.Batch)] public static string Count(IReadOnlyCollection<int> ids) => "ran:" + (ids is null ? -1 : -1);
            }

            public sealed class Throwing : IReadOnlyCollection<int>
            {
                public int Count => throw new InvalidOperationException("no count");
                public IEnumerator<int> GetEnumerator() => throw new InvalidOperationException("no enumerator");
                System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
            }

            public static class Program
            {
                public static string Run() =>
                    Batches.Send(default) + "," + Batches.Push(new BrokenList()) + "," + Batches.Count(new Throwing());
            }
            """);

    [Fact]
    public void Mutating_struct_through_a_constrained_type_parameter_is_refused_and_behaves_as_without_the_hook()
    {
        const string source = """
            public interface ICounter
            {
                int Value { get; set; }
                [LogEvent(Priority.Batch)] public int Bump(int by) { Value += by; return Value; }
            }

            public struct Counter : ICounter
            {
                public int Value { get; set; }
            }

            public static class Program
            {
                private static int BumpTwice<T>(ref T counter) where T : ICounter
                {
                    counter.Bump(1);
                    return counter.Bump(1);
                }

                public static string Run()
                {
                    var counter = new Counter();
                    int last = BumpTwice(ref counter);
                    return last + "," + counter.Value;
                }
            }
            """;

        CorpusHarness.Build build = CorpusHarness.BuildWithGenerator(source);
        CorpusHarness.AssertNoneInGenerated(build);
        Assert.Equal(2, build.Inst("INST015").Count());
        Assert.All(build.Inst("INST015"), d => Assert.Contains("type parameter 'T'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        // A default interface method called on a struct works on a boxed copy with or without the hook; refusing keeps
        // that (and any other constrained call) exactly as the compiler emits it.
        Assert.Equal(CorpusHarness.RunProgram(CorpusHarness.Compile("Consumer", [], source)), CorpusHarness.RunProgram(build.Output));
    }

    [Fact]
    public void Calls_inside_IQueryable_query_expressions_are_not_intercepted()
    {
        CorpusHarness.Build build = CorpusHarness.BuildWithGenerator("""
            public static class Rules
            {
                [LogEvent(Priority.Batch)] public static bool IsOpen(int id) => id % 2 == 0;
            }

            public static class Program
            {
                public static string Run()
                {
                    IQueryable<int> ids = new[] { 1, 2, 3, 4 }.AsQueryable();
                    var open = from id in ids where Rules.IsOpen(id) orderby id descending select id;
                    var inMemory = from id in new[] { 1, 2 } where Rules.IsOpen(id) select id;
                    return string.Join(",", open) + ";" + string.Join(",", inMemory);
                }
            }
            """);

        CorpusHarness.AssertNoneInGenerated(build);
        Assert.Single(build.Inst("INST007"));
        Assert.Equal(1, CorpusHarness.InterceptedCalls(build)); // the LINQ-to-objects one
        Assert.Equal("4,2;2", CorpusHarness.RunProgram(build.Output));
    }

    [Fact]
    public void A_payload_type_that_would_hide_a_user_type_is_reported()
    {
        CorpusHarness.Build build = CorpusHarness.BuildWithGenerator("""
            namespace Shop.Models
            {
                public sealed class PlaceOrderEvent { public string Kind => "user type"; }
            }

            namespace Shop
            {
                using Shop.Models;

                public static class Orders
                {
                    [LogEvent(Priority.Batch)] public static int PlaceOrder(int id) => id;
                    public static string Describe() => new PlaceOrderEvent().Kind;
                }
            }
            """);

        Diagnostic diagnostic = Assert.Single(build.Inst("INST017"));
        Assert.Contains("Shop.Models.PlaceOrderEvent", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }
}
