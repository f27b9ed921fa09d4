using Instrumentation.Generator.Model;
using Instrumentation.Generator.Parsing;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>
/// Issue 12, hooks across projects: a library declares public [LogEvent] methods; an app that references it (and the
/// generator) has its calls of them hooked, read from the library's metadata.
/// </summary>
public class CrossAssemblyTests
{
    private const string Library = """
        namespace Notebooks.Engine
        {
            public sealed partial class Kernel
            {
                [LogEvent(Priority.Batch)] public int Execute(string cellId) => cellId.Length;
                [LogEvent(Priority.Batch, Name = "kernel_reset", PayloadType = "KernelReset")] public static void Reset(int generation) { }
                public static partial class Audit
                {
                    [LogEvent(Priority.Immediate)] public static partial void Opened(string notebookId);
                }
                internal int Hidden(int x) => x;
                public int RunAll() => Execute("in-library");
            }
        }
        """;

    private const string App = """
        using Instrumentation.Testing;
        using Notebooks.Engine;

        public static class Program
        {
            public static string Run()
            {
                var sink = new InMemoryLogEventSink();
                int result;
                using (LogEventHub.Attach(sink))
                {
                    var kernel = new Kernel();
                    result = kernel.Execute("cell-1") + kernel.RunAll();
                    Kernel.Reset(2);
                    Kernel.Audit.Opened("nb");
                }

                // The hub is process-wide and other corpus programs run at the same time: keep this library's events.
                return result + ":" + string.Join(",", sink.Events.Where(e => e.GetType().Assembly.GetName().Name == "Notebooks.Engine").Select(e => e.EventType));
            }
        }
        """;

    [Fact]
    public void Calls_of_a_referenced_librarys_hooked_methods_are_hooked_in_the_app()
    {
        CorpusHarness.Build library = CorpusHarness.BuildWithGenerator("Notebooks.Engine", [], Library);
        CorpusHarness.AssertNoneInGenerated(library);
        Assert.Equal(2, library.Inst("INST019").Count());
        byte[] libraryImage = CorpusHarness.Emit(library.Output);

        CorpusHarness.Build app = CorpusHarness.BuildWithGenerator("NotebookApp", [MetadataReference.CreateFromImage(libraryImage)], App);

        CorpusHarness.AssertNoneInGenerated(app);
        Assert.Empty(app.InUserCode);
        Assert.Equal(2, CorpusHarness.InterceptedCalls(app)); // Execute and Reset; Opened records by itself and is not hooked again
        Assert.Contains(app.GeneratedSources, s => s.Contains("global::Notebooks.Engine.KernelReset.__Rent(generation)", StringComparison.Ordinal));
        Assert.Equal(
            "16:execute,execute,kernel_reset,opened",
            CorpusHarness.RunProgram(app.Output, libraryImage));
    }

    [Fact]
    public void Without_the_generator_in_the_app_the_library_still_records_its_own_calls()
    {
        byte[] libraryImage = CorpusHarness.Emit(CorpusHarness.BuildWithGenerator("Notebooks.Engine", [], Library).Output);
        Compilation plainApp = CorpusHarness.Compile("NotebookApp", [MetadataReference.CreateFromImage(libraryImage)], App);

        Assert.Equal("16:execute,opened", CorpusHarness.RunProgram(plainApp, libraryImage));
    }

    [Fact]
    public void An_edit_that_keeps_the_references_reuses_what_was_read_from_them()
    {
        // Reading referenced assemblies runs after every keystroke: it must not walk every reference's metadata again.
        byte[] libraryImage = CorpusHarness.Emit(CorpusHarness.BuildWithGenerator("Notebooks.Engine", [], Library).Output);
        CSharpCompilation before = CorpusHarness.Compile("NotebookApp", [MetadataReference.CreateFromImage(libraryImage)], App);
        EquatableArray<EventModel> first = ReferencedEvents.Read(before, TestContext.Current.CancellationToken);

        SyntaxTree edited = CSharpSyntaxTree.ParseText("public static class Unrelated { public static int Answer => 42; }", (CSharpParseOptions)before.SyntaxTrees[0].Options, cancellationToken: TestContext.Current.CancellationToken);
        CSharpCompilation after = before.AddSyntaxTrees(edited);
        // What makes the reuse correct: the compiler keeps the library's assembly symbol for a compilation with the same references.
        Assert.Same(
            before.SourceModule.ReferencedAssemblySymbols.Single(a => a.Name == "Notebooks.Engine"),
            after.SourceModule.ReferencedAssemblySymbols.Single(a => a.Name == "Notebooks.Engine"));
        EquatableArray<EventModel> second = ReferencedEvents.Read(after, TestContext.Current.CancellationToken);

        Assert.Equal(2, first.Count);
        Assert.Equal(first, second);
        Assert.All(Enumerable.Range(0, first.Count), i => Assert.Same(first[i], second[i]));
    }

    [Fact]
    public void An_internal_type_of_a_reference_with_the_payload_name_is_no_collision()
    {
        // Invisible to this project, it collides with nothing: refusing the payload (INST016) would lose the event for nothing.
        byte[] other = CorpusHarness.Emit(CorpusHarness.Compile("Shop.Internals", [], "namespace Shop { internal sealed class PlacedEvent { } }"));
        CorpusHarness.Build app = CorpusHarness.BuildWithGenerator("ShopApp", [MetadataReference.CreateFromImage(other)], """
            namespace Shop
            {
                public static class Orders
                {
                    [LogEvent(Priority.Batch)] internal static int Placed(int id) => id;
                }
            }

            public static class Program
            {
                public static string Run() => Shop.Orders.Placed(3).ToString();
            }
            """);

        CorpusHarness.AssertNoneInGenerated(app);
        Assert.Empty(app.InUserCode);
        Assert.Empty(app.Inst("INST016"));
        Assert.Equal(1, CorpusHarness.InterceptedCalls(app));
        Assert.Equal("3", CorpusHarness.RunProgram(app.Output, other));
    }
}
