using System.Collections.Immutable;
using System.Text;
using BenchmarkDotNet.Attributes;
using Basic.Reference.Assemblies;
using Instrumentation.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Instrumentation.Benchmarks;

/// <summary>
/// The generator over a synthetic project: 1,000 [LogEvent] methods (500 partial, 500 hooked) and 10,000 call sites
/// in 100 files. A full run from scratch, and an incremental re-run after a one-line edit in one file.
/// </summary>
[MemoryDiagnoser]
public class GeneratorBenchmarks
{
    private const int EventFiles = 10;
    private const int MethodsPerFile = 100;
    private const int CallFiles = 100;
    private const int CallsPerFile = 100;

    private static readonly CSharpParseOptions ParseOptions = CSharpParseOptions.Default
        .WithLanguageVersion(LanguageVersion.Preview)
        .WithFeatures([new("InterceptorsNamespaces", "Instrumentation.Generated")]);

    private CSharpCompilation _compilation = null!;
    private CSharpCompilation _edited = null!;
    private GeneratorDriver _warm = null!;

    [GlobalSetup]
    public void Setup()
    {
        var trees = new List<SyntaxTree>();
        for (int file = 0; file < EventFiles; file++)
        {
            trees.Add(CSharpSyntaxTree.ParseText(EventsFile(file), ParseOptions, $"/src/Events{file}.cs"));
        }

        for (int file = 0; file < CallFiles; file++)
        {
            trees.Add(CSharpSyntaxTree.ParseText(CallsFile(file), ParseOptions, $"/src/Calls{file}.cs"));
        }

        _compilation = CSharpCompilation.Create(
            "Synthetic",
            trees,
            [.. Net100.References.All, MetadataReference.CreateFromFile(typeof(LogEventAttribute).Assembly.Location), MetadataReference.CreateFromFile(typeof(LogEventHub).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        // The one-line edit: a statement added inside a method body of one calling file.
        SyntaxTree target = _compilation.SyntaxTrees.Last();
        string edited = target.ToString().Replace("public static void Run()\n    {", "public static void Run()\n    {\n        System.Console.WriteLine();", StringComparison.Ordinal);
        _edited = _compilation.ReplaceSyntaxTree(target, CSharpSyntaxTree.ParseText(edited, ParseOptions, target.FilePath));
        _warm = NewDriver().RunGenerators(_compilation);

        GeneratorDriverRunResult result = _warm.GetRunResult();
        if (result.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error) || result.GeneratedTrees.Length != 2)
        {
            throw new InvalidOperationException("The synthetic project did not generate cleanly: " + string.Join("; ", result.Diagnostics));
        }
    }

    [Benchmark(Description = "full run: 1,000 events, 10,000 call sites")]
    public GeneratorDriver FullRun() => NewDriver().RunGenerators(_compilation);

    [Benchmark(Description = "incremental re-run after a one-line edit")]
    public GeneratorDriver IncrementalRun() => _warm.RunGenerators(_edited);

    private static GeneratorDriver NewDriver() =>
        CSharpGeneratorDriver.Create([new LogEventGenerator().AsSourceGenerator()], parseOptions: ParseOptions);

    private static string EventsFile(int file)
    {
        var source = new StringBuilder("using System;\nusing Instrumentation;\nnamespace Synthetic;\n");
        source.Append("public static partial class Events").Append(file).Append("\n{\n");
        for (int m = 0; m < MethodsPerFile / 2; m++)
        {
            source.Append($"    [LogEvent(Priority.Batch)] public static partial void Happened{file}_{m}(string notebookId, int count, TimeSpan elapsed);\n");
        }

        source.Append("}\npublic static class Work").Append(file).Append("\n{\n");
        for (int m = 0; m < MethodsPerFile / 2; m++)
        {
            source.Append($"    [LogEvent(Priority.Batch)] public static int Step{file}_{m}(string notebookId, int value) => value + 1;\n");
        }

        return source.Append("}\n").ToString();
    }

    private static string CallsFile(int file)
    {
        var source = new StringBuilder("namespace Synthetic;\npublic static class Caller").Append(file).Append("\n{\n    public static void Run()\n    {\n");
        for (int c = 0; c < CallsPerFile; c++)
        {
            int target = (file * CallsPerFile) + c;
            int targetFile = target % EventFiles;
            int targetMethod = target / EventFiles % (MethodsPerFile / 2);
            source.Append($"        Work{targetFile}.Step{targetFile}_{targetMethod}(\"nb\", {c});\n");
        }

        return source.Append("    }\n}\n").ToString();
    }
}
