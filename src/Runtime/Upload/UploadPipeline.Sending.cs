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
            StartUpload(UploadKind.Single, [item], item.Json);
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

        List<QueuedEvent> batch = _pending.TakeBatch(_batchLimit, _options.MaxBatchBytes);
        _batchInFlight = true;
        StartUpload(UploadKind.Batch, batch, BatchBody(batch));
    }

    private void StartUpload(UploadKind kind, List<QueuedEvent> items, byte[] body)
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

            _completions.Enqueue(new Completion(kind, items, response, _timeProvider.GetElapsedTime(started)));
            _signal.Set();
        }, CancellationToken.None);
    }

    private static byte[] BatchBody(List<QueuedEvent> batch)
    {
        // {"events":[ + items separated by commas + ]}: 13 bytes plus the items plus one comma fewer than items.
        int length = 12;
        foreach (QueuedEvent item in batch)
        {
            length += item.Json.Length + 1;
        }

        byte[] body = new byte[length];
        int position = 0;
        Append(body, ref position, "{\"events\":["u8);
        for (int i = 0; i < batch.Count; i++)
        {
            if (i > 0)
            {
                body[position++] = (byte)',';
            }

            Append(body, ref position, batch[i].Json);
        }

        Append(body, ref position, "]}"u8);
        return body;
    }

    private static void Append(byte[] target, ref int position, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(target.AsSpan(position));
        position += bytes.Length;
    }

    private sealed record Completion(UploadKind Kind, List<QueuedEvent> Items, UploadResponse Response, TimeSpan Duration);

    private sealed class FlushWaiter(long target)
    {
        public long Target { get; } = target;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
