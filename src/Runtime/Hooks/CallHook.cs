using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;

namespace Instrumentation.Hooks;

/// <summary>
/// What generated call-site hooks call around the original method: start a clock, and record the event when the
/// call returns, throws, or (for tasks) completes. Not meant to be called directly.
/// </summary>
/// <remarks>
/// The hook never changes what the caller sees: the same return value, the same exception rethrown from the
/// original frame, and for <see cref="Task"/>-returning methods the very same task instance (the event is
/// recorded by a continuation, so no synchronization context is captured and nothing waits).
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CallHook
{
    private static readonly string CanceledError = typeof(TaskCanceledException).FullName!;

    /// <summary>Reads the clock at the start of a call.</summary>
    /// <returns>A timestamp for <see cref="Completed"/>, <see cref="Failed"/> or <c>Observe</c>.</returns>
    public static long Start() => LogEventHub.GetTimestamp();

    /// <summary>Records a call that returned.</summary>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    public static void Completed(MethodCallPayload payload, long startTimestamp) =>
        Record(payload, startTimestamp, error: null);

    /// <summary>Records a call that threw (the hook rethrows the exception afterwards).</summary>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    /// <param name="exception">The exception.</param>
    public static void Failed(MethodCallPayload payload, long startTimestamp, Exception exception) =>
        Record(payload, startTimestamp, ErrorName(exception));

    /// <summary>
    /// Records a call that is throwing, from an exception filter, and returns <see langword="false"/> so the exception
    /// is never caught by the hook.
    /// </summary>
    /// <remarks>
    /// Hooks record failures from a filter (<c>catch (Exception e) when (CallHook.Throwing(...))</c>) rather than a
    /// catch-and-rethrow: a catch would end the first pass of exception dispatch at the hook, so the callee's
    /// <c>finally</c> blocks would run before the caller's exception filters; a filter that declines keeps the order
    /// the program has without the hook. The filter never throws (an exception in a filter would be swallowed as
    /// "false" anyway, but recording must not depend on that).
    /// </remarks>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    /// <param name="exception">The exception being thrown.</param>
    /// <returns>Always <see langword="false"/>.</returns>
    public static bool Throwing(MethodCallPayload payload, long startTimestamp, Exception exception)
    {
        try
        {
            Failed(payload, startTimestamp, exception);
        }
        catch (Exception)
        {
            // Recording never changes what the application sees.
        }

        return false;
    }

    /// <summary>Records the event when <paramref name="task"/> completes, and returns the same task.</summary>
    /// <param name="task">The task the original method returned (a method may return a null task).</param>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    /// <returns><paramref name="task"/> itself.</returns>
    [return: NotNullIfNotNull(nameof(task))]
    public static Task? Observe(Task? task, MethodCallPayload payload, long startTimestamp)
    {
        WhenDone(task, payload, startTimestamp);
        return task;
    }

    /// <summary>Records the event when <paramref name="task"/> completes, and returns the same task.</summary>
    /// <typeparam name="T">The task's result type.</typeparam>
    /// <param name="task">The task the original method returned.</param>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    /// <returns><paramref name="task"/> itself.</returns>
    [return: NotNullIfNotNull(nameof(task))]
    public static Task<T>? Observe<T>(Task<T>? task, MethodCallPayload payload, long startTimestamp)
    {
        WhenDone(task, payload, startTimestamp);
        return task;
    }

    /// <summary>Records the event when <paramref name="task"/> completes, and returns a task with the same outcome.</summary>
    /// <param name="task">The task the original method returned.</param>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    /// <returns><paramref name="task"/> itself when it already succeeded; otherwise a task over the same work.</returns>
    public static ValueTask Observe(ValueTask task, MethodCallPayload payload, long startTimestamp)
    {
        if (task.IsCompletedSuccessfully)
        {
            Completed(payload, startTimestamp);
            return task;
        }

        // A ValueTask may be consumed only once: turn it into a Task, observe that, and hand the caller the Task.
        Task asTask = task.AsTask();
        WhenDone(asTask, payload, startTimestamp);
        return new ValueTask(asTask);
    }

    /// <summary>Records the event when <paramref name="task"/> completes, and returns a task with the same outcome.</summary>
    /// <typeparam name="T">The task's result type.</typeparam>
    /// <param name="task">The task the original method returned.</param>
    /// <param name="payload">The call's payload.</param>
    /// <param name="startTimestamp">The value <see cref="Start"/> returned.</param>
    /// <returns><paramref name="task"/> itself when it already succeeded; otherwise a task over the same work.</returns>
    public static ValueTask<T> Observe<T>(ValueTask<T> task, MethodCallPayload payload, long startTimestamp)
    {
        if (task.IsCompletedSuccessfully)
        {
            Completed(payload, startTimestamp);
            return task;
        }

        Task<T> asTask = task.AsTask();
        WhenDone(asTask, payload, startTimestamp);
        return new ValueTask<T>(asTask);
    }

    private static void WhenDone(Task? task, MethodCallPayload payload, long startTimestamp)
    {
        if (task is null)
        {
            // A Task-returning method that returned null: nothing to wait for.
            Completed(payload, startTimestamp);
            return;
        }

        if (task.IsCompleted)
        {
            Record(payload, startTimestamp, ErrorName(task));
            return;
        }

        payload.StartTimestamp = startTimestamp;
        task.ContinueWith(
            static (completed, state) =>
            {
                var pending = (MethodCallPayload)state!;
                Record(pending, pending.StartTimestamp, ErrorName(completed));
            },
            payload,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static void Record(MethodCallPayload payload, long startTimestamp, string? error) =>
        LogEventHub.RecordCall(payload, startTimestamp, error);

    private static string? ErrorName(Task task) =>
        task.IsCanceled ? CanceledError
        : task.IsFaulted ? ErrorName(task.Exception!.InnerException ?? task.Exception)
        : null;

    private static string ErrorName(Exception exception) => exception.GetType().FullName ?? exception.GetType().Name;
}
