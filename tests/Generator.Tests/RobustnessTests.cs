using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Instrumentation.Generator.Tests;

/// <summary>The generator never throws, whatever it is given: a crash would show users CS8785 and no events.</summary>
public class RobustnessTests
{
    [Fact]
    public void Every_prefix_of_a_source_being_typed_is_handled()
    {
        string source = Sources.Events + Sources.Calls;
        GeneratorDriver driver = GeneratorHarness.CreateDriver();
        for (int length = 0; length <= source.Length; length += 13)
        {
            Compilation compilation = GeneratorHarness.Compile(source[..length]);
            driver = driver.RunGenerators(compilation, TestContext.Current.CancellationToken);
            GeneratorRunResult result = driver.GetRunResult().Results.Single();

            Assert.True(result.Exception is null, $"generator threw at length {length}: {result.Exception}");
            Assert.DoesNotContain(result.Diagnostics, d => d.Id is "CS8785" or "INST000");
        }
    }

    [Fact]
    public void Missing_references_are_handled()
    {
        // Only the attributes, no runtime and no framework: nothing binds, nothing may throw.
        var compilation = CSharpCompilation.Create(
            "Bare",
            [CSharpSyntaxTree.ParseText(Sources.Events + Sources.Calls, GeneratorHarness.ParseOptions, cancellationToken: TestContext.Current.CancellationToken)],
            [MetadataReference.CreateFromFile(typeof(LogEventAttribute).Assembly.Location)]);

        GeneratorRunResult result = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Null(result.Exception);
    }

    [Fact]
    public void Broken_attribute_usages_are_handled()
    {
        const string source = """
            using Instrumentation;
            public static partial class E
            {
                [LogEvent] public static partial void NoPriority(int a);
                [LogEvent((Priority)99, Name = null)] public static partial void OddPriority(int b);
                [LogEvent(Priority.Batch, Name = 5)] public static partial void WrongNameType(int c);
                [LogEvent(Priority.Batch)] public static partial void Unfinished(int d,
            }
            """;

        var (result, _, _) = GeneratorHarness.Run(source);

        Assert.Null(result.Results.Single().Exception);
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "INST000");
    }
}
