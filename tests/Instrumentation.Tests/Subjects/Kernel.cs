using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests.Subjects;

/// <summary>Ordinary methods whose call sites are hooked.</summary>
public sealed class Kernel(FakeTimeProvider? time = null)
{
    public int Executions { get; private set; }

    [LogEvent(Priority.Batch)]
    public int Execute(string notebookId, string cellId, int cost)
    {
        Executions++;
        time?.Advance(TimeSpan.FromMilliseconds(cost));
        return cost * 2;
    }

    [LogEvent(Priority.Batch)]
    public void Fail(string reason)
    {
        time?.Advance(TimeSpan.FromMilliseconds(3));
        throw new InvalidOperationException(reason);
    }

    [LogEvent(Priority.Batch)]
    public async Task<int> ExecuteCellAsync(string notebookId, string cellId, [NotLogged] Task gate)
    {
        await gate.ConfigureAwait(false);
        Executions++;
        return 42;
    }

    [LogEvent(Priority.Batch)]
    public Task SaveAsync(string notebookId, [NotLogged] Task gate) => gate;

    [LogEvent(Priority.Batch)]
    public async Task FailAsync([NotLogged] Task gate)
    {
        await gate.ConfigureAwait(false);
        throw new TimeoutException("too slow");
    }

    [LogEvent(Priority.Batch)]
    public ValueTask<int> CountAsync(int value) => new(value);

    [LogEvent(Priority.Batch)]
    public async ValueTask FlushAsync([NotLogged] Task gate) => await gate.ConfigureAwait(false);

    [LogEvent(Priority.Immediate)]
    public static string Describe(string notebookId) => "notebook " + notebookId;

    [LogEvent(Priority.Batch)]
    public static Task ThrowSynchronously(string reason) => throw new ArgumentException(reason);

    [LogEvent(Priority.Batch)]
    public static void Swap(ref int left, ref int right, out int sum)
    {
        (left, right) = (right, left);
        sum = left + right;
    }
}

public static class KernelExtensions
{
    [LogEvent(Priority.Batch)]
    public static int Restart(this Kernel kernel, string reason) => kernel.Executions + reason.Length;
}

public struct Counter
{
    public int Value { get; private set; }

    [LogEvent(Priority.Batch)]
    public void Increment(int by) => Value += by;
}
