using System.Buffers;
using Instrumentation.Pooling;

namespace Instrumentation.Upload;

/// <summary>
/// An event on its way to the collector: serialized once, then carried until it is resolved (delivered,
/// dead-lettered or dropped). Entries and their JSON buffers are pooled: the uploader's steady state allocates
/// nothing per event.
/// </summary>
internal sealed class QueuedEvent
{
    private static readonly BoundedQueue<QueuedEvent> s_free = new(16 * 1024);

    /// <summary>
    /// The JSON buffers' own pool: with up to <c>MaxQueuedEvents</c> events pending, <c>ArrayPool.Shared</c> (a few
    /// dozen arrays per size) would run dry and every event would allocate again. Only upload loops rent and
    /// return, so its locks are rarely contended.
    /// </summary>
    private static readonly ArrayPool<byte> s_buffers = ArrayPool<byte>.Create(maxArrayLength: 1024 * 1024, maxArraysPerBucket: 16 * 1024);

    private byte[] _buffer = [];
    private int _length;

    private QueuedEvent()
    {
    }

    /// <summary>Position in the order events entered the pipeline (flushes wait for ordinals up to a mark).</summary>
    public long Ordinal { get; private set; }

    public Guid Id { get; private set; }

    public string Type { get; private set; } = string.Empty;

    public Priority Priority { get; private set; }

    /// <summary>The event's JSON (a view of a pooled buffer: valid until the entry is returned).</summary>
    public ReadOnlyMemory<byte> Json => new(_buffer, 0, _length);

    /// <summary>When it entered the pipeline: a batch is due <c>MaxWaitTime</c> after its oldest event's.</summary>
    public DateTimeOffset EnqueuedAt { get; private set; }

    /// <summary>
    /// Durable mode: the receipt the spool gave when it handed the event over, given back to the spool
    /// (<c>Acknowledge</c>) once the event is resolved; 0 when the event is not in the spool. Opaque to the uploader.
    /// </summary>
    public long SpoolReceipt { get; set; }

    /// <summary>How many times it was sent and answered with a server error (the retry budget).</summary>
    public int ServerErrorAttempts { get; set; }

    /// <summary>Takes an entry from the pool and copies <paramref name="json"/> into a pooled buffer.</summary>
    public static QueuedEvent Rent(long ordinal, Guid id, string type, Priority priority, ReadOnlySpan<byte> json, DateTimeOffset enqueuedAt)
    {
        QueuedEvent entry = s_free.TryDequeue(out QueuedEvent? free) ? free! : new QueuedEvent();
        entry._buffer = s_buffers.Rent(json.Length);
        json.CopyTo(entry._buffer);
        entry._length = json.Length;
        entry.Ordinal = ordinal;
        entry.Id = id;
        entry.Type = type;
        entry.Priority = priority;
        entry.EnqueuedAt = enqueuedAt;
        return entry;
    }

    /// <summary>Gives the buffer and the entry back. Nothing may read the entry afterwards.</summary>
    public void Return()
    {
        s_buffers.Return(_buffer);
        _buffer = [];
        _length = 0;
        Type = string.Empty;
        SpoolReceipt = 0;
        ServerErrorAttempts = 0;
        s_free.TryEnqueue(this);
    }
}
