namespace Instrumentation.Upload;

/// <summary>
/// Batches whose request failed, each waiting for its own backoff to end: a failure delays only its own events. Their
/// events still count as in flight for the caps (they are not dropped while they wait), and their number is bounded:
/// while the circuit is open the next probe is always the held batch due first, whatever its own backoff.
/// </summary>
/// <remarks>Used only by the pipeline's loop, one thread at a time.</remarks>
internal sealed class HeldBatches
{
    private readonly List<HeldBatch> _batches = [];

    /// <summary>The events of every held batch (they are waiting too: a backlog counts them).</summary>
    public int EventCount { get; private set; }

    /// <summary>When the earliest held batch may go again, or null when none waits.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            DateTimeOffset? next = null;
            foreach (HeldBatch batch in _batches)
            {
                if (next is null || batch.Due < next)
                {
                    next = batch.Due;
                }
            }

            return next;
        }
    }

    public void Hold(List<QueuedEvent> items, int attempts, DateTimeOffset due)
    {
        _batches.Add(new HeldBatch(items, attempts, due));
        EventCount += items.Count;
    }

    /// <summary>Takes the held batch due first, if it is due at <paramref name="now"/> (or, with <paramref name="ignoreDue"/>, in any case).</summary>
    public HeldBatch? TakeDue(DateTimeOffset now, bool ignoreDue)
    {
        int best = -1;
        for (int i = 0; i < _batches.Count; i++)
        {
            if (best < 0 || _batches[i].Due < _batches[best].Due)
            {
                best = i;
            }
        }

        if (best < 0 || (!ignoreDue && _batches[best].Due > now))
        {
            return null;
        }

        HeldBatch taken = _batches[best];
        _batches.RemoveAt(best);
        EventCount -= taken.Items.Count;
        return taken;
    }

    /// <summary>
    /// Moves into <paramref name="batch"/> (a held batch being sent again) the events of other held batches that are due
    /// at <paramref name="now"/>, whole batches only, while the request stays within <paramref name="maxCount"/> events
    /// and <paramref name="maxBodyBytes"/> of body: the failed requests of a backlog go again as full batches, not one
    /// small request each. Their backoffs are over too, so nothing waits less than it should.
    /// </summary>
    /// <returns>The highest backoff count among the batches merged in (0 when none was).</returns>
    public int MergeDueInto(List<QueuedEvent> batch, DateTimeOffset now, int maxCount, long maxBodyBytes)
    {
        long body = PendingEvents.BatchBodyBytes(batch);
        int attempts = 0;
        for (int i = 0; i < _batches.Count && batch.Count < maxCount; i++)
        {
            HeldBatch other = _batches[i];
            if (other.Due > now || batch.Count + other.Items.Count > maxCount)
            {
                continue;
            }

            long withIt = body + PendingEvents.BatchBodyBytes(other.Items) - PendingEvents.BatchBodyOverhead + 1;
            if (withIt > maxBodyBytes)
            {
                continue;
            }

            batch.AddRange(other.Items);
            EventCount -= other.Items.Count;
            body = withIt;
            attempts = Math.Max(attempts, other.Attempts);
            _batches.RemoveAt(i--);
        }

        return attempts;
    }

    /// <summary>
    /// Makes every held batch due at <paramref name="now"/> and starts its backoff count again: the circuit has just
    /// closed, so the endpoint is back. Backoffs earned while it was down (growing with every failed probe) would only
    /// keep a backlog waiting, and so would counts of failures that were the endpoint's, not the batch's: after this, a
    /// batch's backoff grows only with its own failures while the endpoint is up.
    /// </summary>
    public void ReleaseAll(DateTimeOffset now)
    {
        for (int i = 0; i < _batches.Count; i++)
        {
            _batches[i] = _batches[i] with { Due = _batches[i].Due > now ? now : _batches[i].Due, Attempts = 0 };
        }
    }
}

/// <summary>The events of one failed request, how many failures their backoff counts (see <see cref="HeldBatches.ReleaseAll"/>), and when they may go again.</summary>
internal sealed record HeldBatch(List<QueuedEvent> Items, int Attempts, DateTimeOffset Due);
