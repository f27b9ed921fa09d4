using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;

namespace Instrumentation.Generator.Tests;

/// <summary>
/// Compares the generated code with the <c>Baselines/*.verified.cs</c> files kept in the repository. To accept a
/// change on purpose, run the tests with <c>INSTRUMENTATION_ACCEPT_BASELINES=1</c> and review the diff.
/// </summary>
public partial class BaselineTests
{
    [Fact]
    public void Payloads_and_partial_bodies() => Verify(Sources.Events, "Instrumentation.Events.g.cs", "Events");

    [Fact]
    public void Hooks() => Verify(Sources.Events, "Instrumentation.Hooks.g.cs", "Hooks", Sources.Calls);

    [Fact]
    public void Generated_code_compiles_without_warnings()
    {
        var (_, diagnostics, _) = GeneratorHarness.Run(Sources.Events, Sources.Calls);

        Assert.Empty(diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    private static void Verify(string source, string hintName, string baselineName, params string[] more)
    {
        var (result, _, _) = GeneratorHarness.Run([source, .. more]);
        string actual = Scrub(GeneratorHarness.GeneratedText(result, hintName));
        string path = Path.Combine(BaselineDirectory(), baselineName + ".verified.cs");

        if (Environment.GetEnvironmentVariable("INSTRUMENTATION_ACCEPT_BASELINES") == "1")
        {
            File.WriteAllText(path, actual);
        }

        Assert.True(File.Exists(path), $"No baseline at {path}; run the tests with INSTRUMENTATION_ACCEPT_BASELINES=1 to create it.");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), actual);
    }

    /// <summary>Interceptor locations hold a checksum of the calling file: stable for a given input, but noise in a review.</summary>
    private static string Scrub(string generated) =>
        InterceptsLocationData().Replace(generated, "InterceptsLocation($1, \"<location data>\")");

    /// <summary>The source directory of the baselines, stamped into the assembly at build time (see the project file).</summary>
    private static string BaselineDirectory() =>
        typeof(BaselineTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "BaselineDirectory").Value!;

    [GeneratedRegex("""InterceptsLocation\((\d+), "[^"]*"\)""")]
    private static partial Regex InterceptsLocationData();
}
