using System.Threading.Tasks.Sources;

namespace Instrumentation.Upload;

/// <summary>
/// Wakes the pipeline's loop: producers call <see cref="Set"/>, the loop waits with a deadline. A set that happens
/// while the loop is busy is kept, so no wake-up is lost.
/// </summary>
/// <remarks>
/// <see cref="Set"/> runs on the application's thread (the first event after the loop went to sleep), so it must
/// allocate nothing. A <see cref="TaskCompletionSource"/> cannot promise that: completing it with asynchronous
/// continuations wraps the waiter in a new work item. Here the one waiter awaits a reusable value-task source, and
/// the thread pool queues the waiting state machine itself.
/// </remarks>
internal sealed class AsyncSignal : IValueTaskSource
{
    private static readonly TimeSpan ClockJump = TimeSpan.FromMilliseconds(5);

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>1 from <see cref="Set"/> until the next <see cref="Reset"/>.</summary>
    private int _isSet;

    /// <summary>1 while the loop waits on <see cref="_core"/> and nobody has completed it yet.</summary>
    private int _isWaiting;

    public void Set()
    {
        if (Volatile.Read(ref _isSet) == 1)
        {
            return;
        }

        Interlocked.Exchange(ref _isSet, 1);
        Wake();
    }

    /// <summary>Arms the signal again after a wake-up. Only the loop calls it, before it looks for work.</summary>
    /// <remarks>A full fence: the loop's next look for work must not be ordered before this write.</remarks>
    public void Reset() => Interlocked.Exchange(ref _isSet, 0);

    /// <summary>Waits until <see cref="Set"/> is called, the clock reaches <paramref name="due"/>, or the token is canceled.</summary>
    /// <remarks>
    /// The deadline is absolute: if the clock jumps while the timer is being set (a test advancing a fake clock), the
    /// timer is set again from the new time, so it never fires later than <paramref name="due"/>. Only one caller
    /// may wait at a time (the loop).
    /// </remarks>
    public async ValueTask WaitAsync(DateTimeOffset? due, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _isSet) == 1 || (due is { } early && timeProvider.GetUtcNow() >= early))
        {
            return;
        }

        _core.Reset();
        Interlocked.Exchange(ref _isWaiting, 1);
        if (Volatile.Read(ref _isSet) == 1)
        {
            Wake(); // a Set between the first check and arming saw nobody waiting
        }

        using CancellationTokenRegistration canceled = cancellationToken.UnsafeRegister(static state => ((AsyncSignal)state!).Wake(), this);
        using ITimer? timer = due is { } deadline ? StartTimer(deadline, timeProvider) : null;
        await new ValueTask(this, _core.Version).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private ITimer StartTimer(DateTimeOffset deadline, TimeProvider timeProvider)
    {
        ITimer timer = timeProvider.CreateTimer(static state => ((AsyncSignal)state!).Wake(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        while (true)
        {
            DateTimeOffset now = timeProvider.GetUtcNow();
            if (now >= deadline)
            {
                Wake();
                return timer;
            }

            timer.Change(deadline - now, Timeout.InfiniteTimeSpan);
            if (timeProvider.GetUtcNow() - now <= ClockJump)
            {
                return timer;
            }

            // The clock moved while the timer was set: set it again from the new time.
        }
    }

    /// <summary>Completes the wait, once: a set, the timer and cancellation may race, and only the first one counts.</summary>
    private void Wake()
    {
        if (Interlocked.Exchange(ref _isWaiting, 0) == 1)
        {
            _core.SetResult(true);
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
