using Instrumentation.Generator.Support;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Instrumentation.Generator.Tests;

/// <summary>
/// INST000: an unexpected failure inside the generator is reported where it happened, never thrown. No known input
/// makes the parsers fail (the robustness tests look for one), so these tests make the parse step itself throw and
/// check what the guard around it turns that into.
/// </summary>
public class GeneratorFailureTests
{
    private const string Source = """
        using Instrumentation;
        public static class Kernel
        {
            [LogEvent(Priority.Batch)]
            public static void Run(string cellId) { }

            public static void Caller() => Run("c7");
        }
        """;

    private static readonly SyntaxTree Tree = CSharpSyntaxTree.ParseText(Source, path: "/src/File0.cs");

    private static Dictionary<string, SyntaxTree> Trees => new() { [Tree.FilePath] = Tree };

    [Fact]
    public void INST000_a_failure_while_parsing_an_event_is_reported_on_the_method()
    {
        SyntaxToken name = Tree.GetRoot(TestContext.Current.CancellationToken).DescendantNodes().OfType<MethodDeclarationSyntax>().First().Identifier;

        EventParseResult result = EventParser.Guarded(
            "Kernel.Run",
            LocationInfo.From(name),
            () => throw new InvalidOperationException("unexpected symbol shape"),
            TestContext.Current.CancellationToken);

        Assert.Null(result.Model);
        Diagnostic diagnostic = Assert.Single(result.Diagnostics).ToDiagnostic(Trees);
        AssertFailure(diagnostic, name.Span);
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("'Kernel.Run'", message, StringComparison.Ordinal);
        Assert.Contains("no event code was generated", message, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: unexpected symbol shape", message, StringComparison.Ordinal);
    }

    [Fact]
    public void INST000_a_failure_while_binding_a_call_is_reported_at_the_call_which_stays_unhooked()
    {
        InvocationExpressionSyntax call = Tree.GetRoot(TestContext.Current.CancellationToken).DescendantNodes().OfType<InvocationExpressionSyntax>().Single();

        CallSiteParseResult? result = CallSiteParser.Guarded(
            call,
            SemanticModel(),
            new HookIndex(EquatableArray<string>.Empty, EquatableArray<string>.Empty),
            (_, _, _, _) => throw new NullReferenceException("no symbol"),
            "Run",
            TestContext.Current.CancellationToken);

        Assert.NotNull(result);
        Assert.Null(result.CallSite);
        Diagnostic diagnostic = result.Diagnostic!.ToDiagnostic(Trees);
        AssertFailure(diagnostic, call.Span);
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("call of 'Run'", message, StringComparison.Ordinal);
        Assert.Contains("not hooked", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_of_the_run_is_not_a_failure()
    {
        using var canceled = new CancellationTokenSource();
        canceled.Cancel();

        Assert.Throws<OperationCanceledException>(() => EventParser.Guarded("Kernel.Run", null, () => throw new OperationCanceledException(canceled.Token), canceled.Token));
        InvocationExpressionSyntax call = Tree.GetRoot(TestContext.Current.CancellationToken).DescendantNodes().OfType<InvocationExpressionSyntax>().Single();
        Assert.Throws<OperationCanceledException>(() => CallSiteParser.Guarded(call, SemanticModel(), new HookIndex(EquatableArray<string>.Empty, EquatableArray<string>.Empty), (_, _, _, _) => throw new OperationCanceledException(canceled.Token), "Run", canceled.Token));
    }

    [Fact]
    public void An_OperationCanceledException_without_cancellation_is_a_failure_like_any_other()
    {
        EventParseResult result = EventParser.Guarded("Kernel.Run", null, () => throw new OperationCanceledException(), TestContext.Current.CancellationToken);

        Assert.Equal("INST000", Assert.Single(result.Diagnostics).Descriptor.Id);
    }

    private static SemanticModel SemanticModel() => CSharpCompilation.Create("Failure", [Tree]).GetSemanticModel(Tree);

    private static void AssertFailure(Diagnostic diagnostic, Microsoft.CodeAnalysis.Text.TextSpan expectedSpan)
    {
        Assert.Equal("INST000", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        Assert.True(diagnostic.Location.IsInSource);
        Assert.Equal(expectedSpan, diagnostic.Location.SourceSpan);
        Assert.EndsWith("#inst000", diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
    }
}
