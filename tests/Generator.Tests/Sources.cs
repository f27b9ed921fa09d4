namespace Instrumentation.Generator.Tests;

/// <summary>Test inputs shared by the generator tests.</summary>
internal static class Sources
{
    public const string Events = """
        using System;
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using Instrumentation;

        namespace Demo;

        public enum CellKind { Code, Markdown, Alias = Code }

        public static partial class NotebookEvents
        {
            [LogEvent(Priority.Immediate, Name = "notebook")]
            public static partial void NotebookVisited(string notebookId, TimeSpan duration);

            [LogEvent(Priority.Batch, Name = "cell")]
            public static partial void CellExecuted(string notebookId, string cellId, TimeSpan duration, CellKind kind, int? retries, IEnumerable<string> tags);

            [LogEvent(Priority.Batch)]
            internal static partial void CopyPaste(this string notebookId, [NotLogged] object clipboard, Uri? source, char key);
        }

        public sealed class Kernel
        {
            [LogEvent(Priority.Batch)]
            public async Task<int> ExecuteCellAsync(string notebookId, string cellId)
            {
                await Task.Yield();
                return 1;
            }

            [LogEvent(Priority.Immediate)]
            public static void Shutdown(int exitCode) { }
        }
        """;

    public const string Calls = """
        using System.Threading.Tasks;
        using Demo;

        public static class Program
        {
            public static async Task Main()
            {
                var kernel = new Kernel();
                await kernel.ExecuteCellAsync("nb-1", "c1");
                Kernel.Shutdown(0);
            }
        }
        """;

    public const string Unrelated = """
        public static class Unrelated
        {
            public static int Answer() => 42;
        }
        """;
}
