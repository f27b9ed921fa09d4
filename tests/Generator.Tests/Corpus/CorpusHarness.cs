using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Instrumentation.Generator.Tests.Corpus;

/// <summary>
/// Compiles a consumer the way a demanding user builds it (nullable enabled, warnings as errors, unsafe allowed),
/// with and without the generator, and runs it in a collectible load context.
/// </summary>
internal static class CorpusHarness
{
    private const string Usings = """
        using System;
        using System.Collections.Generic;
        using System.Collections.Immutable;
        using System.Diagnostics.CodeAnalysis;
        using System.Linq;
        using System.Text;
        using System.Threading;
        using System.Threading.Tasks;
        using Instrumentation;

        """;

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. Net100.References.All,
        MetadataReference.CreateFromFile(typeof(LogEventAttribute).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(LogEventHub).Assembly.Location),
    ];

    private static readonly CSharpCompilationOptions Options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        .WithNullableContextOptions(NullableContextOptions.Enable)
        .WithGeneralDiagnosticOption(ReportDiagnostic.Error)
        .WithAllowUnsafe(true)
        // As in an SDK project: CS1591 only matters with documentation output, and the trimming analyzer is on.
        .WithSpecificDiagnosticOptions([new("CS1591", ReportDiagnostic.Suppress)]);

    /// <summary>The outcome of building one consumer.</summary>
    internal sealed record Build(
        Compilation Output,
        ImmutableArray<Diagnostic> GeneratorDiagnostics,
        ImmutableArray<Diagnostic> InGeneratedCode,
        ImmutableArray<Diagnostic> InUserCode,
        ImmutableArray<string> GeneratedSources)
    {
        public IEnumerable<Diagnostic> Inst(string id) => GeneratorDiagnostics.Where(d => d.Id == id);
    }

    public static CSharpCompilation Compile(string assemblyName, IEnumerable<MetadataReference> extra, params string[] sources) =>
        CSharpCompilation.Create(
            assemblyName,
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(Usings + source, GeneratorHarness.ParseOptions, path: $"/corpus/{assemblyName}/File{i}.cs")),
            References.AddRange(extra),
            Options);

    public static Build BuildWithGenerator(params string[] sources) => BuildWithGenerator("Consumer", [], sources);

    public static Build BuildWithGenerator(string assemblyName, IEnumerable<MetadataReference> extra, params string[] sources)
    {
        CSharpCompilation compilation = Compile(assemblyName, extra, sources);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        var generatedTrees = result.GeneratedSources.Select(s => s.SyntaxTree).ToHashSet();
        ImmutableArray<Diagnostic> all = output.GetDiagnostics();
        return new Build(
            output,
            result.Diagnostics,
            [.. all.Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Location.SourceTree is { } tree && generatedTrees.Contains(tree))],
            [.. all.Where(d => d.Severity >= DiagnosticSeverity.Warning && !(d.Location.SourceTree is { } tree && generatedTrees.Contains(tree)))],
            [.. result.GeneratedSources.Select(s => s.SourceText.ToString())]);
    }

    /// <summary>Asserts that the generated code is clean and the whole consumer compiles with warnings as errors.</summary>
    public static Build AssertClean(params string[] sources)
    {
        Build build = BuildWithGenerator(sources);
        AssertNoneInGenerated(build);
        Assert.True(build.InUserCode.IsEmpty, "Diagnostics in user code:\n" + string.Join("\n", build.InUserCode));
        // Warnings are errors in the consumer: a generator warning fails its build as well.
        Assert.True(!build.GeneratorDiagnostics.Any(d => d.Severity >= DiagnosticSeverity.Warning), "Generator diagnostics:\n" + string.Join("\n", build.GeneratorDiagnostics));
        return build;
    }

    public static void AssertNoneInGenerated(Build build) =>
        Assert.True(build.InGeneratedCode.IsEmpty, "Diagnostics inside generated code:\n" + string.Join("\n", build.InGeneratedCode) + "\n\n" + string.Join("\n\n", build.GeneratedSources));

    /// <summary>Number of interceptors the generator emitted.</summary>
    public static int InterceptedCalls(Build build) =>
        build.GeneratedSources.Sum(s => CountOf(s, "InterceptsLocation(1,"));

    /// <summary>
    /// Runs <c>Program.Run()</c> (a static method returning the program's output) of the consumer built with the generator
    /// and of the same build without the generated hooks; both outputs must equal <paramref name="expected"/>.
    /// </summary>
    public static Build AssertSameOutput(string expected, params string[] sources)
    {
        Build hooked = AssertClean(sources);
        Assert.True(InterceptedCalls(hooked) > 0, "Nothing was hooked:\n" + string.Join("\n\n", hooked.GeneratedSources));
        // "Without hooking": the same build minus the interceptors (partial-method bodies and payloads stay, so
        // consumers with partial [LogEvent] methods compile; every call runs as written).
        Compilation plain = hooked.Output.RemoveSyntaxTrees(hooked.Output.SyntaxTrees.Where(t => t.FilePath.EndsWith("Instrumentation.Hooks.g.cs", StringComparison.Ordinal)));
        Assert.Equal(expected, RunProgram(plain));
        Assert.Equal(expected, RunProgram(hooked.Output));
        return hooked;
    }

    /// <summary>Emits <paramref name="compilation"/> to an image (to load it, or to reference it from another compilation).</summary>
    public static byte[] Emit(Compilation compilation)
    {
        using var stream = new MemoryStream();
        var emitted = compilation.Emit(stream);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        return stream.ToArray();
    }

    public static string RunProgram(Compilation compilation, params byte[][] dependencies)
    {
        byte[] image = Emit(compilation);
        var context = new AssemblyLoadContext("corpus", isCollectible: true);
        try
        {
            foreach (byte[] dependency in dependencies)
            {
                context.LoadFromStream(new MemoryStream(dependency));
            }

            Assembly assembly = context.LoadFromStream(new MemoryStream(image));
            MethodInfo run = assembly.GetType("Program")!.GetMethod("Run", BindingFlags.Public | BindingFlags.Static)!;
            object? result = run.Invoke(null, null);
            return result is Task<string> task ? task.GetAwaiter().GetResult() : (string)result!;
        }
        finally
        {
            context.Unload();
        }
    }

    private static int CountOf(string text, string value)
    {
        int count = 0;
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
