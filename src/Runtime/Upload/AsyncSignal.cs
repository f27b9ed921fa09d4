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

    /// <summary>Waits until <see cref="Set"/> is called, the timeout passes, or the token is canceled.</summary>
    public async Task WaitAsync(TimeSpan? timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        Task signaled = Volatile.Read(ref _source).Task;
        if (signaled.IsCompleted)
        {
            return;
        }

        if (timeout is not { } delay)
        {
            await signaled.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task delayed = Task.Delay(delay, timeProvider, stopDelay.Token);
        await Task.WhenAny(signaled, delayed).ConfigureAwait(false);
        stopDelay.Cancel();
        cancellationToken.ThrowIfCancellationRequested();
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
