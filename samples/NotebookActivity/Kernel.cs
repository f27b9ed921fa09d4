using Instrumentation;

namespace NotebookActivity;

/// <summary>A toy notebook kernel: calls of its [LogEvent] methods are hooked at compile time.</summary>
public sealed class Kernel
{
    private int _executionCount;

    [LogEvent(Priority.Batch, Name = "cell")]
    public async Task<int> ExecuteCellAsync(string notebookId, string cellId, string code)
    {
        await Task.Delay(code.Length % 7).ConfigureAwait(false);
        if (code.Contains("raise", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The cell raised an error.");
        }

        return ++_executionCount;
    }
}
