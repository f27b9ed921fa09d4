using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Instrumentation.Generator.Tests;

/// <summary>
/// One test per diagnostic: the source marks the expected location with <c>[|</c> and <c>|]</c>; the test checks the
/// ID, the span, the severity and that the message and help link say how to fix it.
/// </summary>
public class DiagnosticTests
{
    private const string Usings = "using System; using System.Collections.Generic; using System.Threading.Tasks; using Instrumentation;\n";

    [Fact]
    public void INST001_partial_method_not_void() => AssertDiagnostic("INST001", """
        public static partial class E
        {
            [LogEvent(Priority.Batch)]
            public static partial [|int|] Count(string id);
        }
        """);

    [Fact]
    public void INST002_generic_method() => AssertDiagnostic("INST002", """
        public static partial class E
        {
            [LogEvent(Priority.Batch)]
            public static partial void Generic[|<T>|](T value);
        }
        """);

    [Fact]
    public void INST002_partial_method_in_generic_type() => AssertDiagnostic("INST002", """
        public partial class Repository<T>
        {
            [LogEvent(Priority.Batch)]
            public partial void [|Saved|](string id);
        }
        """);

    [Fact]
    public void INST003_ref_out_params_parameters()
    {
        AssertDiagnostic("INST003", """
            public static partial class E
            {
                [LogEvent(Priority.Batch)]
                public static partial void WithRef([|ref int count|]);
            }
            """);
        AssertDiagnostic("INST003", """
            public static partial class E
            {
                [LogEvent(Priority.Batch)]
                public static partial void WithParams([|params string[] tags|]);
            }
            """);
    }

    [Fact]
    public void INST004_containing_type_not_partial() => AssertDiagnostic("INST004", """
        public class [|Outer|]
        {
            public static partial class Events
            {
                [LogEvent(Priority.Batch)]
                public static partial void Happened(int value);
            }
        }
        """);

    [Fact]
    public void INST005_unsupported_parameter_type_is_a_warning_that_suggests_NotLogged()
    {
        Diagnostic diagnostic = AssertDiagnostic("INST005", """
            public static partial class E
            {
                [LogEvent(Priority.Batch)]
                public static partial void Happened(int value, [|Dictionary<string, int> lookup|]);
            }
            """);

        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        Assert.Contains("[NotLogged]", diagnostic.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void INST006_duplicate_event_name() => AssertDiagnostic("INST006", """
        public static partial class E
        {
            [LogEvent(Priority.Batch, Name = "cell")]
            public static partial void First(int value);

            [LogEvent(Priority.Batch, Name = "cell")]
            public static partial void [|Second|](int value);
        }
        """);

    [Fact]
    public void INST006_names_that_make_the_same_payload_type() => AssertDiagnostic("INST006", """
        public static partial class E
        {
            [LogEvent(Priority.Batch, Name = "cell-run")]
            public static partial void First(int value);

            [LogEvent(Priority.Batch, Name = "cell_run")]
            public static partial void [|Second|](int value);
        }
        """);

    [Fact]
    public void INST007_method_group_is_not_hooked() => AssertDiagnostic("INST007", """
        public static class K
        {
            [LogEvent(Priority.Batch)]
            public static int Twice(int value) => value * 2;

            public static Func<int, int> AsDelegate() => [|Twice|];
        }
        """);

    [Fact]
    public void INST007_call_in_expression_tree_is_not_hooked() => AssertDiagnostic("INST007", """
        public static class K
        {
            [LogEvent(Priority.Batch)]
            public static int Twice(int value) => value * 2;

            public static System.Linq.Expressions.Expression<Func<int>> Tree() => () => [|Twice(2)|];
        }
        """);

    [Fact]
    public void INST008_name_collides_with_duration_ms_or_error()
    {
        AssertDiagnostic("INST008", """
            public static class K
            {
                [LogEvent(Priority.Batch)]
                public static void Run([|TimeSpan duration|]) { }
            }
            """);
        AssertDiagnostic("INST008", """
            public static class K
            {
                [LogEvent(Priority.Batch)]
                public static void Run([|string error|]) { }
            }
            """);
    }

    [Fact]
    public void INST008_two_parameters_with_one_wire_name() => AssertDiagnostic("INST008", """
        public static partial class E
        {
            [LogEvent(Priority.Batch)]
            public static partial void Happened(string cellId, [|string cell_id|]);
        }
        """);

    [Fact]
    public void INST009_private_method_cannot_be_hooked() => AssertDiagnostic("INST009", """
        public class K
        {
            [LogEvent(Priority.Batch)]
            private void [|Run|]() { }

            public void Go() => Run();
        }
        """);

    [Fact]
    public void INST010_abstract_method() => AssertDiagnostic("INST010", """
        public abstract class K
        {
            [LogEvent(Priority.Batch)]
            public abstract void [|Run|]();
        }
        """);

    [Fact]
    public void INST011_empty_name() => AssertDiagnostic("INST011", """
        public static partial class E
        {
            [[|LogEvent(Priority.Batch, Name = " ")|]]
            public static partial void Happened(int value);
        }
        """);

    [Fact]
    public void INST012_partial_method_with_a_body_of_its_own() => AssertDiagnostic("INST012", """
        public static partial class E
        {
            [LogEvent(Priority.Batch)]
            public static partial void [|Happened|](int value);

            public static partial void Happened(int value) { }
        }
        """);

    /// <summary>Runs the generator on <paramref name="markedSource"/> and checks that the one diagnostic with <paramref name="id"/> sits on the marked span.</summary>
    private static Diagnostic AssertDiagnostic(string id, string markedSource)
    {
        string source = Usings + markedSource;
        int start = source.IndexOf("[|", StringComparison.Ordinal);
        int end = source.IndexOf("|]", StringComparison.Ordinal) - 2;
        source = source.Replace("[|", string.Empty, StringComparison.Ordinal).Replace("|]", string.Empty, StringComparison.Ordinal);

        var (result, _, _) = GeneratorHarness.Run(source);

        Assert.Null(result.Results.Single().Exception);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics, d => d.Id == id);
        Assert.Equal(TextSpan.FromBounds(start, end), diagnostic.Location.SourceSpan);
        Assert.Equal("/src/File0.cs", diagnostic.Location.GetLineSpan().Path);
        // In a syntax tree, not an external file: that is what lets '#pragma warning disable' and the editor see it
        // (tests/Instrumentation.Tests builds with warnings as errors and suppresses an INST007 that way).
        Assert.True(diagnostic.Location.IsInSource);
        Assert.EndsWith("#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(diagnostic.Descriptor.Title.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return diagnostic;
    }
}
