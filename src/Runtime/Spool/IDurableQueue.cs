namespace Instrumentation.Spool;

/// <summary>One record of the durable queue: an event's identity and its serialized JSON.</summary>
/// <param name="Ordinal">The event's position in the uploader's ledger; also its commit number.</param>
/// <param name="Id">The event's id.</param>
/// <param name="Type">The event's type (for dead letters); read from the JSON when not known.</param>
/// <param name="Priority">Its priority (immediate records outlive batch records under the caps).</param>
/// <param name="RecordedAt">When it was recorded (for the age cap).</param>
/// <param name="Json">The event's JSON; valid only during the call that passes or returns it.</param>
internal readonly ref struct SpoolEntry(long Ordinal, Guid Id, string Type, Priority Priority, DateTimeOffset RecordedAt, ReadOnlySpan<byte> Json)
{
    public long Ordinal { get; } = Ordinal;

    public Guid Id { get; } = Id;

    public string Type { get; } = Type;

    public Priority Priority { get; } = Priority;

    public DateTimeOffset RecordedAt { get; } = RecordedAt;

    public ReadOnlySpan<byte> Json { get; } = Json;
}

/// <summary>What a commit achieved.</summary>
internal enum CommitResult
{
    /// <summary>Everything appended so far is written as the flush policy requires.</summary>
    Durable,

    /// <summary>Written to the operating system; the policy's sync is not due yet (Interval).</summary>
    Pending,

    /// <summary>
    /// The write or the sync failed (this commit's, or one since the last commit: at a roll-over, or of a segment closed
    /// after a failed write): not durable. After a failed write the records concerned left the queue (see
    /// <see cref="IDurableQueue.TryTakeReturned"/>); after a failed sync they stay in it and are read as usual.
    /// </summary>
    Failed,
}

/// <summary>A record the durable queue removed under its caps before it was read: its event is dropped.</summary>
internal readonly record struct SpoolDrop(long Ordinal, string Reason);

/// <summary>
/// A durable queue of serialized events: append (returning a commit number), commit, read next, acknowledge. It owns
/// its files and its read cursor; it hands out copies of records and receipts, never the uploader's objects.
/// </summary>
/// <remarks>All members but <see cref="WaitForCommit"/> are called by one thread (the upload loop).</remarks>
internal interface IDurableQueue : IDisposable
{
    /// <summary>Records found at open, left by an earlier process: they are read first, with ordinals 1…ReplayedCount.</summary>
    long ReplayedCount { get; }

    /// <summary>Bytes of records held now.</summary>
    long TotalBytes { get; }

    /// <summary>Bytes of torn or corrupt records cut off.</summary>
    long CorruptBytes { get; }

    /// <summary>When <see cref="Commit"/> should run next to keep the flush policy's promise, or null when nothing waits.</summary>
    DateTimeOffset? NextSyncDue { get; }

    /// <summary>Every commit number up to this one is settled: written as the flush policy requires, or failed for good.</summary>
    long CommittedThrough { get; }

    /// <summary>Appends a record (it is written at the next commit, or sooner when many wait). Its commit number is its ordinal.</summary>
    /// <returns>The commit number, or 0 when the queue cannot take it (after a failed write it has no file to write to; logged): the caller keeps the event in memory.</returns>
    long Append(in SpoolEntry entry);

    /// <summary>Writes what was appended and, as the flush policy says, forces it to disk.</summary>
    /// <returns>Whether the records appended so far are durable (per the policy), not yet, or not, because a write or sync failed (logged).</returns>
    CommitResult Commit(DateTimeOffset now);

    /// <summary>
    /// Takes a record that was appended but whose write failed (a full disk, a file size limit, an I/O error). The
    /// queue cut its file back to the last whole record, so such a record is no longer in it and is never read: the
    /// caller keeps its event in memory. Records can come back after <see cref="Append"/>, <see cref="Commit"/>,
    /// <see cref="TryReadNext"/> and <see cref="Trim"/>; a record read with <see cref="TryReadNext"/> never comes back.
    /// </summary>
    /// <param name="entry">The record; its JSON is valid until the next call.</param>
    bool TryTakeReturned(out SpoolEntry entry);

    /// <summary>
    /// Publishes <paramref name="through"/> as <see cref="CommittedThrough"/> and wakes the callers waiting for it: every
    /// commit number up to it was committed (or its write failed, or it was never appended and never will be).
    /// </summary>
    void Publish(long through);

    /// <summary>Blocks the calling thread until <paramref name="commitNumber"/> is committed or the queue is closed. Any thread.</summary>
    void WaitForCommit(long commitNumber);

    /// <summary>Reads the oldest record not yet read.</summary>
    /// <param name="entry">The record; its JSON is valid until the next call.</param>
    /// <param name="receipt">What to pass to <see cref="Acknowledge"/> when the event is resolved.</param>
    bool TryReadNext(out SpoolEntry entry, out long receipt);

    /// <summary>A record that was read is resolved (delivered, dead-lettered, dropped): the queue may delete it.</summary>
    void Acknowledge(long receipt);

    /// <summary>
    /// Applies the caps (<c>MaxSpoolBytes</c>, making room for <paramref name="incomingBytes"/> first; <c>MaxSpoolAge</c>):
    /// removes the oldest segments; of their records not yet read, the immediate ones are appended again at the end
    /// (same ordinal; handed back through <see cref="TryTakeReturned"/> when that fails) and the batch ones are
    /// returned as dropped. Records already read stay with the uploader.
    /// </summary>
    IReadOnlyList<SpoolDrop> Trim(DateTimeOffset now, long incomingBytes);
}
