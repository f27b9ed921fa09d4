namespace Instrumentation.Generator.Tests;

public class Smoke
{
    [Fact]
    public void Prints()
    {
        var (result, diags, _) = GeneratorHarness.Run("""
using System;
using System.Threading.Tasks;
using Instrumentation;
namespace Demo;
public static partial class NotebookEvents
{
    [LogEvent(Priority.Immediate, Name = "notebook")]
    public static partial void NotebookVisited(string notebookId, TimeSpan duration);

    [LogEvent(Priority.Batch, Name = "cell")]
    public static partial void CellExecuted(string notebookId, string cellId, TimeSpan duration, int[] counts, DayOfWeek day);
}
public sealed class Kernel
{
    [LogEvent(Priority.Batch)]
    public async Task<int> ExecuteCellAsync(string notebookId, string cellId) { await Task.Yield(); return 1; }
}
public static class Program
{
    public static async Task Main() { var k = new Kernel(); await k.ExecuteCellAsync("a", "b"); k?.ExecuteCellAsync("a","b"); }
}
""");
        foreach (var s in result.Results[0].GeneratedSources) Console.WriteLine(s.SourceText);
        foreach (var d in result.Diagnostics.Concat(diags)) Console.WriteLine(d);
        Assert.Empty(diags.Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning));
    }
}
