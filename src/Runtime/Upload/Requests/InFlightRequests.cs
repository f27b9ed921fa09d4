using System.Buffers;
using System.Collections.Concurrent;

namespace Instrumentation.Upload;

/// <summary>
/// Requests on their way: each is sent on a pool thread and its answer queued for the loop, which applies it. Owns the
/// request bodies (pooled) and the lists of events per request (reused), and the token that aborts them at shutdown.
/// </summary>
internal sealed class InFlightRequests(IUploadTransport transport, TimeProvider timeProvider, AsyncSignal signal) : IDisposable
{
    private readonly ConcurrentQueue<Completion> _completions = new();
    private readonly Stack<List<QueuedEvent>> _freeLists = new();
    private readonly CancellationTokenSource _abort = new();

    /// <summary>A list for the events of one request (lists come back through <see cref="Recycle"/>, so steady state allocates none).</summary>
    public List<QueuedEvent> RentList(int capacity) => _freeLists.TryPop(out List<QueuedEvent>? list) ? list : new List<QueuedEvent>(capacity);

    /// <summary>An emptied list is free again.</summary>
    public void Recycle(List<QueuedEvent> list)
    {
        list.Clear();
        _freeLists.Push(list);
    }

    /// <summary>Sends the events: one alone to <c>/logs</c>, several as <c>{"events":[…]}</c> to <c>/logs/batch</c>.</summary>
    /// <param name="kind">Which endpoint.</param>
    /// <param name="items">The events (owned by the request until its answer is applied).</param>
    /// <param name="attempts">How many times these events already failed together.</param>
    public void Start(UploadKind kind, List<QueuedEvent> items, int attempts)
    {
        byte[]? pooled = null;
        ReadOnlyMemory<byte> body;
        if (kind == UploadKind.Single)
        {
            body = items[0].Json;
        }
        else
        {
            pooled = BatchBody(items, out int length);
            body = pooled.AsMemory(0, length);
        }

        long started = timeProvider.GetTimestamp();
        CancellationToken abort = _abort.Token;
        _ = Task.Run(async () =>
        {
            UploadResponse response;
            try
            {
                response = await transport.SendAsync(kind, body, abort).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                response = UploadResponse.Network(exception.Message);
            }

            if (pooled is not null)
            {
                ArrayPool<byte>.Shared.Return(pooled); // the request is over: nothing reads the body any more
            }

            _completions.Enqueue(new Completion(kind, items, attempts, response, timeProvider.GetElapsedTime(started)));
            signal.Set();
        }, CancellationToken.None);
    }

    public bool TryTakeCompletion(out Completion? completion) => _completions.TryDequeue(out completion);

    /// <summary>
    /// Shutdown: requests still running are canceled. The pipeline applies the answers already in when they settle
    /// their events; the events of requests without a final answer count as dropped, or stay in the spool.
    /// </summary>
    public void Abort() => _abort.Cancel();

    public void Dispose() => _abort.Dispose();

    /// <summary>Writes <c>{"events":[…]}</c> into a pooled buffer.</summary>
    private static byte[] BatchBody(List<QueuedEvent> batch, out int length)
    {
        length = PendingEvents.BatchBodyOverhead - 1; // one comma fewer than events
        foreach (QueuedEvent item in batch)
        {
            length += item.Json.Length + 1;
        }

        byte[] body = ArrayPool<byte>.Shared.Rent(length);
        int position = 0;
        Append(body, ref position, "{\"events\":["u8);
        for (int i = 0; i < batch.Count; i++)
        {
            if (i > 0)
            {
                body[position++] = (byte)',';
            }

            Append(body, ref position, batch[i].Json.Span);
        }

        Append(body, ref position, "]}"u8);
        return body;
    }

    private static void Append(byte[] target, ref int position, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(target.AsSpan(position));
        position += bytes.Length;
    }
}

/// <summary>An answered request: its events, how many of their earlier failures count for their backoff, the answer, and how long it took.</summary>
internal sealed record Completion(UploadKind Kind, List<QueuedEvent> Items, int Attempts, UploadResponse Response, TimeSpan Duration);
