namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>
/// Consumer shapes tried in the review of issue 12 (beyond the list): each must build clean with warnings as
/// errors, be hooked, and print what the program prints without the hooks.
/// </summary>
public class ReviewShapeTests
{
    private const string Calc = """
        public static class Calc
        {
            public static StringBuilder Log { get; } = new();
            [LogEvent(Priority.Batch)] public static int Twice(int value) { Log.Append("t" + value + ";"); return value * 2; }
            [LogEvent(Priority.Batch)] public static int Sum([NotLogged] params ReadOnlySpan<int> values) { int s = 0; foreach (int v in values) s += v; return s; }
            [LogEvent(Priority.Batch)] public static int Sum2(params int[] values) => values.Sum();
            [LogEvent(Priority.Batch)] public static int Read(in int value) => value + 1;
            [LogEvent(Priority.Batch)] public static int ReadOnlyRef(ref readonly int value) => value + 2;
            [LogEvent(Priority.Batch)] public static Scope Open(string name) { Log.Append("open " + name + ";"); return new Scope(name); }
        }

        public sealed class Scope(string name) : IDisposable
        {
            public void Dispose() => Calc.Log.Append("close " + name + ";");
        }
        """;

    [Fact]
    public void Calls_in_stackalloc_checked_and_collection_expressions() =>
        _ = CorpusHarness.AssertSameOutput("t1;t2;t3;6|-2147483646|6", Calc, """
            public static class Program
            {
                public static string Run()
                {
                    Calc.Log.Clear();
                    Span<int> values = stackalloc int[] { Calc.Twice(1), Calc.Twice(2) };
                    int wrapped = unchecked(Calc.Twice(int.MaxValue / 2 + 1) + 2);
                    int[] spread = [.. new[] { checked(Calc.Twice(3)) }];
                    return Calc.Log.ToString().Replace("t1073741824;", "") + (values[0] + values[1] + 0) + "|" + wrapped + "|" + spread[0];
                }
            }
            """);

    [Fact]
    public void Params_spans_params_arrays_and_in_arguments_passed_by_value() =>
        _ = CorpusHarness.AssertSameOutput("6,6,15,6,8,10", Calc, """
            public static class Program
            {
                private static readonly int s_field = 5;

                public static string Run()
                {
                    int local = 7;
                    return string.Join(",",
                        Calc.Sum(1, 2, 3),
                        Calc.Sum2(1, 2, 3),
                        Calc.Sum([4, 5, 6]),
                        Calc.Read(5),
                        Calc.Read(in local),
                        Calc.ReadOnlyRef(in local) + Calc.Read(s_field) - 5 + 1 - 1);
                }
            }
            """);

    [Fact]
    public void Calls_in_using_declarations_and_primary_constructor_initializers() =>
        _ = CorpusHarness.AssertSameOutput("t2;open a;body;t3;close a;|4,6", Calc, """
            public class Base(int value) { public int Value { get; } = value; }

            public sealed class Derived(int x) : Base(Calc.Twice(x))
            {
                public int Extra { get; } = Calc.Twice(x + 1);
            }

            public static class Program
            {
                public static string Run()
                {
                    Calc.Log.Clear();
                    var derived = Use();
                    return Calc.Log.ToString() + "|" + derived.Value + "," + derived.Extra;
                }

                private static Derived Use()
                {
                    var derived = new Derived(2) is var d ? d : null!;
                    Calc.Log.Clear();
                    Calc.Twice(2);
                    using var scope = Calc.Open("a");
                    Calc.Log.Append("body;");
                    Calc.Twice(3);
                    return derived;
                }
            }
            """);

    [Fact]
    public void Calls_in_lambdas_converted_to_the_base_expression_types_are_not_intercepted()
    {
        // C# 10 converts a lambda to LambdaExpression or Expression too: the call inside is an expression-tree node, and
        // an interceptor there would change the tree (a query provider would see the hook, not the method).
        CorpusHarness.Build build = CorpusHarness.BuildWithGenerator(Calc, """
            using System.Linq.Expressions;

            public static class Program
            {
                public static string Run()
                {
                    LambdaExpression lambda = () => Calc.Twice(2);
                    Expression expression = () => Calc.Twice(3);
                    string shown = lambda.Body.ToString().Replace("Calc.", "") + "|" + ((LambdaExpression)expression).Body.ToString().Replace("Calc.", "");
                    return shown + "|" + Calc.Twice(2);
                }
            }
            """);

        CorpusHarness.AssertNoneInGenerated(build);
        Assert.Equal(2, build.Inst("INST007").Count());
        Assert.Equal(1, CorpusHarness.InterceptedCalls(build)); // only the direct call
        Assert.Equal("Twice(2)|Twice(3)|4", CorpusHarness.RunProgram(build.Output));
    }

    [Fact]
    public void Struct_receivers_in_readonly_fields_in_parameters_and_ref_this_extensions_keep_their_copies() =>
        _ = CorpusHarness.AssertSameOutput("0,2,0,2,1", """
            public struct Counter
            {
                public int Value;
                [LogEvent(Priority.Batch)] public int Bump() => ++Value;
            }

            public static class CounterExtensions
            {
                [LogEvent(Priority.Batch)] public static int BumpRef(this ref Counter counter) => ++counter.Value;
            }

            public sealed class Holder
            {
                private readonly Counter _readOnly;
                private Counter _mutable;

                public string Run(in Counter given)
                {
                    _readOnly.Bump();          // a defensive copy: the field stays 0
                    _mutable.Bump();           // the field itself
                    given.Bump();              // a copy of the in parameter: stays 0
                    _mutable.BumpRef();        // by ref: 2
                    var local = new Counter();
                    local.Bump();
                    return _readOnly.Value + "," + _mutable.Value + "," + given.Value + "," + _mutable.Value + "," + local.Value;
                }
            }

            public static class Program
            {
                public static string Run() => new Holder().Run(new Counter());
            }
            """);
}
