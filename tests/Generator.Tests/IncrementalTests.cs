using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Instrumentation.Generator.Tests;

/// <summary>
/// The generator must not redo work the user's edit did not touch: after each kind of edit, the steps that should
/// be cached report Cached or Unchanged, and the models never hold symbols, syntax or the compilation.
/// </summary>
public class IncrementalTests
{
    private static readonly string[] EventSteps = [LogEventGenerator.Steps.EventModels, LogEventGenerator.Steps.AllEventModels];

    [Fact]
    public void Unrelated_edit_leaves_every_step_cached()
    {
        var (driver, compilation) = FirstRun();

        Compilation edited = ReplaceTree(compilation, 2, Sources.Unrelated.Replace("42", "43", StringComparison.Ordinal));
        GeneratorRunResult second = driver.RunGenerators(edited, TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        AssertCached(second, [.. EventSteps, LogEventGenerator.Steps.CallSites, LogEventGenerator.Steps.HookInputs]);
        AssertOutputsCached(second);
    }

    [Fact]
    public void Edit_inside_a_method_body_leaves_the_event_models_cached()
    {
        var (driver, compilation) = FirstRun();

        // Lengthens the body of a [LogEvent] method: its declaration moves, its event does not change.
        string editedEvents = Sources.Events.Replace("await Task.Yield();", "await Task.Yield(); await Task.Yield();", StringComparison.Ordinal);
        GeneratorRunResult second = driver.RunGenerators(ReplaceTree(compilation, 0, editedEvents), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        // The edited file gains a call (of Task.Yield), so Roslyn's per-candidate call-site table shifts by one entry and
        // reports later entries as New/Modified even though their values are equal. What matters is downstream: the
        // collected call sites compare equal, so the hook input and both generated files are left as they were.
        AssertCached(second, [.. EventSteps, LogEventGenerator.Steps.HookInputs]);
        AssertOutputsCached(second);
    }

    [Fact]
    public void New_call_site_changes_only_the_hooks()
    {
        var (driver, compilation) = FirstRun();

        string editedCalls = Sources.Calls.Replace("Kernel.Shutdown(0);", "Kernel.Shutdown(0);\n        Kernel.Shutdown(1);", StringComparison.Ordinal);
        GeneratorRunResult second = driver.RunGenerators(ReplaceTree(compilation, 1, editedCalls), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        AssertCached(second, EventSteps);
        Assert.Contains(second.TrackedSteps[LogEventGenerator.Steps.CallSites].SelectMany(s => s.Outputs), o => o.Value is not null && o.Reason == IncrementalStepRunReason.New);
        Assert.Equal(3, CountOf(second.GeneratedSources.Single(s => s.HintName == "Instrumentation.Hooks.g.cs").SourceText.ToString(), "InterceptsLocation("));
    }

    [Fact]
    public void Models_hold_no_symbols_syntax_or_compilation()
    {
        var (driver, _) = FirstRun();
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        foreach (string step in new[] { LogEventGenerator.Steps.ParsedEvents, LogEventGenerator.Steps.EventModels, LogEventGenerator.Steps.CallSites })
        {
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object value, _) in run.Outputs)
                {
                    AssertPlain(value, step, new HashSet<object>(ReferenceEqualityComparer.Instance));
                }
            }
        }
    }

    private static readonly IncrementalStepRunReason[] CachedReasons = [IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged];

    private static (GeneratorDriver Driver, Compilation Compilation) FirstRun()
    {
        Compilation compilation = GeneratorHarness.Compile(Sources.Events, Sources.Calls, Sources.Unrelated);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation, TestContext.Current.CancellationToken);
        Assert.Empty(driver.GetRunResult().Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        return (driver, compilation);
    }

    private static Compilation ReplaceTree(Compilation compilation, int index, string text)
    {
        SyntaxTree old = compilation.SyntaxTrees.ElementAt(index);
        return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, old.FilePath));
    }

    private static void AssertCached(GeneratorRunResult result, IEnumerable<string> steps)
    {
        foreach (string step in steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} did not run");
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object _, IncrementalStepRunReason reason) in run.Outputs)
                {
                    Assert.True(CachedReasons.Contains(reason), $"step {step} output was {reason}");
                }
            }
        }
    }

    private static void AssertOutputsCached(GeneratorRunResult result)
    {
        // Outputs that only report diagnostics are left out: they combine with the compilation on purpose (to map locations
        // back onto syntax trees, see LogEventGenerator) and so re-run after every edit; what must stay cached is the code.
        var outputs = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs)
            .Where(o => o.Value is not System.Runtime.CompilerServices.ITuple { Length: 2 } tuple || tuple[0] is not IEnumerable sources || sources.Cast<object>().Any())
            .ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, o => Assert.Contains(o.Reason, CachedReasons));
    }

    private static void AssertPlain(object? value, string step, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
        {
            return;
        }

        Assert.False(value is ISymbol, $"{step} holds a symbol ({value.GetType()})");
        Assert.False(value is SyntaxNode, $"{step} holds a syntax node ({value.GetType()})");
        Assert.False(value is Compilation, $"{step} holds a compilation");
        Assert.False(value is SemanticModel, $"{step} holds a semantic model");
        if (value is DiagnosticDescriptor)
        {
            return; // a static, immutable description
        }

        if (value is IEnumerable items)
        {
            foreach (object? item in items)
            {
                AssertPlain(item, step, seen);
            }

            return;
        }

        foreach (PropertyInfo property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0)
            {
                AssertPlain(property.GetValue(value), step, seen);
            }
        }
    }

    private static int CountOf(string text, string value) =>
        (text.Length - text.Replace(value, string.Empty, StringComparison.Ordinal).Length) / value.Length;
}
