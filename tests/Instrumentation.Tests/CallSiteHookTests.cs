using Instrumentation.Testing;
using Instrumentation.Tests.Subjects;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Tests;

[Collection(HubCollection.Name)]
public class CallSiteHookTests
{
    [Fact]
    public void Sync_call_runs_the_original_and_records_arguments_and_duration()
    {
        using var capture = new EventCapture();
        var kernel = new Kernel(capture.Time);

        int result = kernel.Execute("nb-1", "c1", cost: 25);

        Assert.Equal(50, result);
        Assert.Equal(1, kernel.Executions);
        ExecuteEvent executed = Assert.Single(capture.Sink.OfType<ExecuteEvent>());
        Assert.Equal("nb-1", executed.NotebookId);
        Assert.Equal(25, executed.Cost);
        Assert.Equal(TimeSpan.FromMilliseconds(25), executed.Duration);
        Assert.Null(executed.Error);
        Assert.Equal(EventCapture.Start.AddMilliseconds(25), executed.Timestamp);
        Assert.Equal("""{"notebook_id":"nb-1","cell_id":"c1","cost":25,"duration_ms":25}""", PartialMethodEventTests.DataOf(executed));
    }

    [Fact]
    public void Exception_is_rethrown_untouched_and_recorded_by_type()
    {
        using var capture = new EventCapture();
        var kernel = new Kernel(capture.Time);

        var thrown = Assert.Throws<InvalidOperationException>(() => kernel.Fail("broken"));

        Assert.Equal("broken", thrown.Message);
        Assert.Contains(nameof(Kernel.Fail), thrown.StackTrace, StringComparison.Ordinal);
        FailEvent failed = Assert.Single(capture.Sink.OfType<FailEvent>());
        Assert.Equal("System.InvalidOperationException", failed.Error);
        Assert.Equal(TimeSpan.FromMilliseconds(3), failed.Duration);
        Assert.Equal("""{"reason":"broken","duration_ms":3,"error":"System.InvalidOperationException"}""", PartialMethodEventTests.DataOf(failed));
    }

    [Fact]
    public async Task Task_of_T_is_measured_until_it_completes_and_returned_unchanged()
    {
        using var capture = new EventCapture();
        var kernel = new Kernel();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task<int> running = kernel.ExecuteCellAsync("nb-1", "c2", gate.Task);
        capture.Time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.Empty(capture.Sink.Events);

        gate.SetResult();
        Assert.Equal(42, await running);

        ExecuteCellAsyncEvent executed = await WaitForSingle<ExecuteCellAsyncEvent>(capture);
        Assert.Equal(TimeSpan.FromMilliseconds(40), executed.Duration);
        Assert.Equal("c2", executed.CellId);
        Assert.Null(executed.Error);
    }

    [Fact]
    public async Task A_call_reads_its_start_and_its_end_on_one_clock_when_listeners_change_during_the_call()
    {
        // Regression: the end used to be read on the clock of whichever listener was attached when the call completed,
        // so a call that started under one clock and ended under another got a duration made of two clocks' readings.
        var startClock = new FakeTimeProvider(EventCapture.Start);
        var laterClock = new FakeTimeProvider(EventCapture.Start.AddYears(3));
        var first = new InMemoryLogEventSink();
        var second = new InMemoryLogEventSink();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<int> running;
        using (LogEventHub.Attach(first, startClock))
        {
            running = new Kernel().ExecuteCellAsync("nb-clock", "c1", gate.Task);
            startClock.Advance(TimeSpan.FromMilliseconds(40));
        }

        using (LogEventHub.Attach(second, laterClock))
        {
            laterClock.Advance(TimeSpan.FromMilliseconds(7));
            gate.SetResult();
            Assert.Equal(42, await running);
            ExecuteCellAsyncEvent executed = await WaitForSingle<ExecuteCellAsyncEvent>(second);
            Assert.Equal(TimeSpan.FromMilliseconds(40), executed.Duration);
            Assert.Equal(EventCapture.Start.AddMilliseconds(40), executed.Timestamp);
        }

        Assert.Empty(first.Events); // it stopped listening before the call ended
    }

    [Fact]
    public void Task_returned_by_the_hook_is_the_original_instance()
    {
        using var capture = new EventCapture();
        var gate = new TaskCompletionSource();

        Task saved = new Kernel().SaveAsync("nb-1", gate.Task);

        Assert.Same(gate.Task, saved);
        gate.SetResult();
        SaveAsyncEvent recorded = Assert.Single(capture.Sink.OfType<SaveAsyncEvent>());
        Assert.Equal("nb-1", recorded.NotebookId);
    }

    [Fact]
    public async Task Faulted_and_canceled_tasks_record_the_exception_type()
    {
        using var capture = new EventCapture();
        var kernel = new Kernel();
        var gate = new TaskCompletionSource();
        var canceledGate = new TaskCompletionSource();

        Task failing = kernel.FailAsync(gate.Task);
        Task canceled = kernel.SaveAsync("nb-3", canceledGate.Task);
        gate.SetResult();
        canceledGate.SetCanceled(TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<TimeoutException>(() => failing);
        await Assert.ThrowsAsync<TaskCanceledException>(() => canceled);
        Assert.Equal("System.TimeoutException", (await WaitForSingle<FailAsyncEvent>(capture)).Error);
        Assert.Equal("System.Threading.Tasks.TaskCanceledException", (await WaitForSingle<SaveAsyncEvent>(capture)).Error);
    }

    [Fact]
    public async Task ValueTask_methods_are_hooked()
    {
        using var capture = new EventCapture();
        var kernel = new Kernel();
        var gate = new TaskCompletionSource();

        int counted = await kernel.CountAsync(7);
        ValueTask flushing = kernel.FlushAsync(gate.Task);
        Assert.False(flushing.IsCompleted);
        capture.Time.Advance(TimeSpan.FromMilliseconds(9));
        gate.SetResult();
        await flushing;

        Assert.Equal(7, counted);
        Assert.Equal(7, Assert.Single(capture.Sink.OfType<CountAsyncEvent>()).Value);
        Assert.Equal(TimeSpan.FromMilliseconds(9), (await WaitForSingle<FlushAsyncEvent>(capture)).Duration);
    }

    [Fact]
    public void Synchronous_throw_from_a_task_method_stays_synchronous()
    {
        using var capture = new EventCapture();

        Assert.Throws<ArgumentException>(() => { _ = Kernel.ThrowSynchronously("now"); });

        Assert.Equal("System.ArgumentException", Assert.Single(capture.Sink.OfType<ThrowSynchronouslyEvent>()).Error);
    }

    [Fact]
    public void Static_extension_null_conditional_and_struct_call_sites_are_hooked()
    {
        using var capture = new EventCapture();
        Kernel? maybe = new Kernel();
        Kernel? none = null;
        var counter = new Counter();

        string description = Kernel.Describe("nb-9");
        int restarted = maybe.Restart("oom");
        int? viaNullConditional = maybe?.Execute("nb-9", "c9", 1);
        int? skipped = none?.Execute("nb-9", "c10", 1);
        counter.Increment(4);
        counter.Increment(5);

        Assert.Equal("notebook nb-9", description);
        Assert.Equal(3, restarted);
        Assert.Equal(2, viaNullConditional);
        Assert.Null(skipped);
        Assert.Equal(9, counter.Value);
        Assert.Equal(Priority.Immediate, Assert.Single(capture.Sink.OfType<DescribeEvent>()).Priority);
        Assert.Equal("oom", Assert.Single(capture.Sink.OfType<RestartEvent>()).Reason);
        Assert.Equal("c9", Assert.Single(capture.Sink.OfType<ExecuteEvent>()).CellId);
        Assert.Equal([4, 5], capture.Sink.OfType<IncrementEvent>().Select(e => e.By));
    }

    [Fact]
    public void Ref_and_out_arguments_pass_through_and_are_logged_as_they_came_in()
    {
        using var capture = new EventCapture();
        int left = 1, right = 2;

        Kernel.Swap(ref left, ref right, out int sum);

        Assert.Equal((2, 1, 3), (left, right, sum));
        SwapEvent swap = Assert.Single(capture.Sink.OfType<SwapEvent>());
        Assert.Equal("""{"left":1,"right":2,"duration_ms":0}""", PartialMethodEventTests.DataOf(swap));
    }

    [Fact]
    public void Calls_through_a_delegate_are_not_hooked()
    {
        using var capture = new EventCapture();
#pragma warning disable INST007 // the point of this test: a method group is not hooked, and the generator says so
        Func<string, string> viaDelegate = Kernel.Describe;
#pragma warning restore INST007

        Assert.Equal("notebook x", viaDelegate("x"));

        Assert.Empty(capture.Sink.Events);
    }

    /// <summary>Task continuations run on the thread pool: wait (bounded) until the event has been recorded.</summary>
    private static Task<T> WaitForSingle<T>(EventCapture capture)
        where T : LogEventPayload =>
        WaitForSingle<T>(capture.Sink);

    private static async Task<T> WaitForSingle<T>(InMemoryLogEventSink sink)
        where T : LogEventPayload
    {
        for (int attempt = 0; attempt < 500 && sink.OfType<T>().Count == 0; attempt++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        return Assert.Single(sink.OfType<T>());
    }
}
