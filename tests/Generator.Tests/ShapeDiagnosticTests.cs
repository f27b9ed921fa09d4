using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Instrumentation.Generator.Tests;

/// <summary>
/// Issue 12, list 4 and the refused shapes of lists 1 and 3: each gets a diagnostic at the user's code (ID and span)
/// instead of silence or an error inside generated code.
/// </summary>
public class ShapeDiagnosticTests
{
    private const string Usings = "using System; using System.Collections.Generic; using System.Linq; using System.Threading.Tasks; using Instrumentation;\n";

    [Fact]
    public void INST013_local_function() => AssertDiagnostic("INST013", """
        public static class C
        {
            public static void Run()
            {
                [LogEvent(Priority.Batch)] static void [|Local|](int x) { }
                Local(1);
            }
        }
        """, "local function 'Local'");

    [Fact]
    public void INST013_lambda() => AssertDiagnostic("INST013", """
        public static class C
        {
            public static Func<int, int> F = [|[LogEvent(Priority.Batch)] (int x) => x|];
        }
        """, "a lambda");

    [Fact]
    public void INST013_operator() => AssertDiagnostic("INST013", """
        public readonly struct Money
        {
            [LogEvent(Priority.Batch)] public static Money operator [|+|](Money a, Money b) => a;
        }
        """, "an operator");

    [Fact]
    public void INST013_accessor() => AssertDiagnostic("INST013", """
        public sealed class C
        {
            public int Value { [LogEvent(Priority.Batch)] [|get|] => 1; }
        }
        """, "an accessor");

    [Fact]
    public void INST013_extension_block_member_instead_of_INST004_without_a_name() => AssertDiagnostic("INST013", """
        public static partial class Extensions
        {
            extension(string text)
            {
                [LogEvent(Priority.Batch)] public int [|Measure|]() => text.Length;
            }
        }
        """, "extension block");

    [Fact]
    public void INST013_partial_method_in_extension_block()
    {
        Diagnostic diagnostic = AssertDiagnostic("INST013", """
            public static partial class Extensions
            {
                extension(string text)
                {
                    [LogEvent(Priority.Batch)] public partial void [|Seen|](int count);
                }
            }
            """, "'Seen' in an extension block");
        Assert.DoesNotContain("''", diagnostic.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void INST014_file_local_type() => AssertDiagnostic("INST014", """
        file sealed class Hidden
        {
            [LogEvent(Priority.Batch)] public int [|Work|](int x) => x;
            public int Call() => Work(1);
        }
        """, "file-local");

    [Fact]
    public void INST014_private_nested_parameter_type() => AssertDiagnostic("INST014", """
        public sealed class Outer
        {
            private sealed class Secret { }
            [LogEvent(Priority.Batch)] internal int [|Use|]([NotLogged] Secret secret) => 1;
            public int Call() => Use(new Secret());
        }
        """, "Outer.Secret");

    [Fact]
    public void INST014_arglist() => AssertDiagnostic("INST014", """
        public static class C
        {
            [LogEvent(Priority.Batch)] public static int [|Vararg|](int x, __arglist) => x;
        }
        """, "__arglist");

    [Fact]
    public void INST014_ref_struct_instance_method() => AssertDiagnostic("INST014", """
        public ref struct Reader
        {
            [LogEvent(Priority.Batch)] public int [|Next|](int x) => x;
        }
        """, "ref struct 'Reader'");

    [Fact]
    public void INST015_call_of_an_override_on_the_derived_type() => AssertDiagnostic("INST015", """
        public class Base
        {
            [LogEvent(Priority.Batch)] public virtual int Run(int x) => x;
        }
        public sealed class Derived : Base
        {
            public override int Run(int x) => x + 1;
        }
        public static class Calls
        {
            public static int Call(Derived d) => [|d.Run(1)|];
        }
        """, "override 'Derived.Run'");

    [Fact]
    public void INST015_dynamic_call() => AssertDiagnostic("INST015", """
        public sealed class Service
        {
            [LogEvent(Priority.Batch)] public int Execute(string cellId) => cellId.Length;
        }
        public static class Calls
        {
            public static object Call(Service s, dynamic id) => [|s.Execute(id)|];
        }
        """, "dynamic");

    [Fact]
    public void INST015_static_virtual_member_through_a_type_parameter() => AssertDiagnostic("INST015", """
        public interface IFactory
        {
            [LogEvent(Priority.Batch)] static virtual int Make(int seed) => seed;
        }
        public static class Calls
        {
            public static int Call<T>() where T : IFactory => [|T.Make(1)|];
        }
        """, "static virtual");

    [Theory]
    [InlineData("Func<int, int> f = flag ? [|Work|] : x => x;")]
    [InlineData("Func<int, int> f = ([|Work|]);")]
    [InlineData("Func<int, int>[] f = [[|Work|]];")]
    [InlineData("Func<int, int> f = flag switch { true => [|Work|], _ => x => x };")]
    public void INST007_method_group_in_other_positions(string statement) => AssertDiagnostic("INST007", """
        public static class C
        {
            [LogEvent(Priority.Batch)] public static int Work(int x) => x;
            public static void Run(bool flag)
            {
                STATEMENT
            }
        }
        """.Replace("STATEMENT", statement, StringComparison.Ordinal), "method group");

    [Fact]
    public void INST006_same_event_name_in_two_namespaces() => AssertDiagnostic("INST006", """
        namespace A { public static partial class E { [LogEvent(Priority.Batch, Name = "run")] public static partial void Go(int x); } }
        namespace B { public static partial class E { [LogEvent(Priority.Batch, Name = "run")] public static partial void [|Go|](int x); } }
        """, "'run'");

    [Fact]
    public void INST009_explicit_interface_implementation_suggests_a_possible_fix()
    {
        Diagnostic diagnostic = AssertDiagnostic("INST009", """
            public interface IRunner { int Run(int x); }
            public sealed class Runner : IRunner
            {
                [LogEvent(Priority.Batch)] int IRunner.[|Run|](int x) => x;
            }
            """, "implicit implementation");
        Assert.DoesNotContain("internal or public", diagnostic.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void INST016_payload_type_name_taken_in_the_same_namespace() => AssertDiagnostic("INST016", """
        namespace Shop
        {
            public sealed class PlaceOrderEvent { }
            public static class Orders
            {
                [[|LogEvent(Priority.Batch)|]] public static int PlaceOrder(int id) => id;
            }
        }
        """, "PayloadType = \"PlaceOrderCall\"");

    [Fact]
    public void INST016_payload_type_name_equal_to_the_containing_type() => AssertDiagnostic("INST016", """
        namespace Shop
        {
            public static partial class RunEvent
            {
                [[|LogEvent(Priority.Batch)|]] public static partial void Run(int id);
            }
        }
        """, "Shop.RunEvent");

    [Fact]
    public void INST016_explicit_payload_type_taken() => AssertDiagnostic("INST016", """
        public sealed class CellRun { }
        public sealed class Kernel
        {
            [[|LogEvent(Priority.Batch, PayloadType = "CellRun")|]] public int Execute(string cellId) => 1;
        }
        """, "'CellRun'");

    [Fact]
    public void INST017_payload_type_hides_a_type_of_another_namespace() => AssertDiagnostic("INST017", """
        namespace Other { public sealed class ExecuteEvent { } }
        namespace Shop
        {
            public sealed class Kernel
            {
                [[|LogEvent(Priority.Batch)|]] public int Execute(string cellId) => 1;
            }
        }
        """, "Other.ExecuteEvent");

    [Theory]
    [InlineData("Cell Run")]
    [InlineData("Shop.CellRun")]
    [InlineData("class")]
    [InlineData("")]
    public void INST018_invalid_payload_type(string name) => AssertDiagnostic("INST018", """
        public sealed class Kernel
        {
            [[|LogEvent(Priority.Batch, PayloadType = "NAME")|]] public int Execute(string cellId) => 1;
        }
        """.Replace("NAME", name, StringComparison.Ordinal), "valid C# identifier");

    [Fact]
    public void INST019_public_hooked_method_is_an_info() => AssertDiagnostic("INST019", """
        public sealed class Kernel
        {
            [LogEvent(Priority.Batch)] public int [|Execute|](string cellId) => 1;
        }
        """, "do not reference it are not recorded", DiagnosticSeverity.Info);

    /// <summary>Runs the generator on <paramref name="markedSource"/>; the one diagnostic <paramref name="id"/> sits on the marked span and its message contains <paramref name="says"/>.</summary>
    private static Diagnostic AssertDiagnostic(string id, string markedSource, string says, DiagnosticSeverity? severity = null)
    {
        string source = Usings + markedSource;
        int start = source.IndexOf("[|", StringComparison.Ordinal);
        int end = source.IndexOf("|]", StringComparison.Ordinal) - 2;
        source = source.Replace("[|", string.Empty, StringComparison.Ordinal).Replace("|]", string.Empty, StringComparison.Ordinal);

        var (result, compilationDiagnostics, output) = GeneratorHarness.Run(source);

        Assert.Null(result.Results.Single().Exception);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics, d => d.Id == id);
        Assert.Equal(TextSpan.FromBounds(start, end), diagnostic.Location.SourceSpan);
        Assert.True(diagnostic.Location.IsInSource);
        Assert.Contains(says, diagnostic.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.EndsWith("#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        if (severity is not null)
        {
            Assert.Equal(severity, diagnostic.Severity);
        }

        // Whatever the shape, nothing is reported inside generated code.
        var generated = result.Results.Single().GeneratedSources.Select(s => s.SyntaxTree).ToHashSet();
        Assert.DoesNotContain(compilationDiagnostics, d => d.Location.SourceTree is { } tree && generated.Contains(tree));
        return diagnostic;
    }
}
