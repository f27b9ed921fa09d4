namespace Instrumentation.Upload;

/// <summary>
/// Wakes the pipeline's loop: producers call <see cref="Set"/>, the loop waits with a deadline. A set that happens
/// while the loop is busy is kept, so no wake-up is lost.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _source = NewSource();

    public void Set() => Volatile.Read(ref _source).TrySetResult();

    /// <summary>Arms the signal again after a wake-up. Only the loop calls it, before it looks for work.</summary>
    public void Reset()
    {
        if (_source.Task.IsCompleted)
        {
            Volatile.Write(ref _source, NewSource());
        }
    }

    /// <summary>Waits until <see cref="Set"/> is called, the clock reaches <paramref name="due"/>, or the token is canceled.</summary>
    /// <remarks>
    /// The deadline is absolute: if the clock jumps while the timer is being set (a test advancing a fake clock), the
    /// timer is set again from the new time, so it never fires later than <paramref name="due"/>.
    /// </remarks>
    public async Task WaitAsync(DateTimeOffset? due, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        Task signaled = Volatile.Read(ref _source).Task;
        while (!signaled.IsCompleted)
        {
            if (due is not { } deadline)
            {
                await signaled.WaitAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            DateTimeOffset now = timeProvider.GetUtcNow();
            if (now >= deadline)
            {
                return;
            }

            using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task delayed = Task.Delay(deadline - now, timeProvider, stopDelay.Token);
            if (timeProvider.GetUtcNow() - now > ClockJump)
            {
                stopDelay.Cancel();
                continue; // the clock moved while the timer was set: set it again from the new time
            }

            await Task.WhenAny(signaled, delayed).ConfigureAwait(false);
            stopDelay.Cancel();
            cancellationToken.ThrowIfCancellationRequested();
            return;
        }
    }

    private static readonly TimeSpan ClockJump = TimeSpan.FromMilliseconds(5);

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
