namespace Instrumentation.Upload;

/// <summary>Starting uploads: immediate events on their own, batches cut from the batch lane, one request per task.</summary>
internal sealed partial class UploadPipeline
{
    private void StartImmediateUploads()
    {
        if (!_retry.ImmediateMayTry)
        {
            _pending.MoveImmediateToBatch();
            return;
        }

        while (_immediateInFlight < _options.MaxConcurrentImmediateUploads && _pending.TakeImmediate() is { } item)
        {
            _immediateInFlight++;
            List<QueuedEvent> single = RentList();
            single.Add(item);
            StartUpload(UploadKind.Single, single, item.Json, pooledBody: null);
        }
    }

    private void StartBatchUploadIfDue()
    {
        if (_batchInFlight || _pending.BatchCount == 0 || !_retry.CanSend)
        {
            return;
        }

        bool due = _pending.BatchCount >= _options.MaxBatchSize
            || _pending.BatchBytes >= _options.MaxBatchBytes
            || _pending.FallenBackCount > 0
            || _flushWaiters.Count > 0
            || _timeProvider.GetUtcNow() >= _pending.OldestBatchEventAt!.Value + _options.MaxWaitTime;
        if (!due)
        {
            return;
        }

        List<QueuedEvent> batch = RentList();
        _pending.TakeBatch(batch, _batchLimit, _options.MaxBatchBytes);
        _batchInFlight = true;
        byte[] body = BatchBody(batch, out int length);
        StartUpload(UploadKind.Batch, batch, body.AsMemory(0, length), body);
    }

    /// <summary>Sends on a pool thread; the answer comes back to the loop. A pooled body is returned when the answer is applied.</summary>
    private void StartUpload(UploadKind kind, List<QueuedEvent> items, ReadOnlyMemory<byte> body, byte[]? pooledBody)
    {
        long started = _timeProvider.GetTimestamp();
        CancellationToken abort = _abortUploads.Token;
        _ = Task.Run(async () =>
        {
            UploadResponse response;
            try
            {
                response = await _transport.SendAsync(kind, body, abort).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                response = UploadResponse.Network(exception.Message);
            }

            _completions.Enqueue(new Completion(kind, items, response, _timeProvider.GetElapsedTime(started), pooledBody));
            _signal.Set();
        }, CancellationToken.None);
    }

    /// <summary>A list for the events of one request (lists come back in <c>Apply</c>, so steady state allocates none).</summary>
    private List<QueuedEvent> RentList() => _freeLists.TryPop(out List<QueuedEvent>? list) ? list : new List<QueuedEvent>(_options.MaxBatchSize);

    /// <summary>Writes <c>{"events":[…]}</c> into a pooled buffer (returned once the answer is applied).</summary>
    private static byte[] BatchBody(List<QueuedEvent> batch, out int length)
    {
        // {"events":[ + items separated by commas + ]}: 13 bytes plus the items plus one comma fewer than items.
        length = 12;
        foreach (QueuedEvent item in batch)
        {
            length += item.Json.Length + 1;
        }

        byte[] body = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
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

    private sealed record Completion(UploadKind Kind, List<QueuedEvent> Items, UploadResponse Response, TimeSpan Duration, byte[]? PooledBody);

    private sealed class FlushWaiter(long target)
    {
        public long Target { get; } = target;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
