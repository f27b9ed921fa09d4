using System.Collections;
using Instrumentation.Collector.Storage.Rollups;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The dashboard's totals the SQLite writer has not written yet: the sums of the events of many commits, added up in
/// memory and written to the rollup tables in one go (a "fold"). Rollup rows per commit grow with the distinct context
/// values, minutes and types in it, not with its events, so a fold of many commits upserts each row once where
/// per-commit writing upserted it once per commit. Owned by the writer loop (every member but <see cref="Recover"/> is
/// called from it, or from <see cref="SqliteEventStore.DisposeAsync"/> after the loop has ended).
/// </summary>
/// <remarks>
/// <para>
/// The table <c>rollup_mark</c> holds the seq through which the rollup tables are complete, moved in the transaction
/// that writes a fold. A seq mark is exact because a SQLite file has one writer (one collector process per file, and in
/// it one writer loop) and <c>seq</c> is an <c>AUTOINCREMENT</c> rowid: each event gets a seq above every seq committed
/// before it, never reused, so the events committed after a fold are exactly those with a seq above its mark, and they
/// are what the pending sums hold. A crash loses the pending sums only: <see cref="Recover"/> recomputes them at start
/// from the stored events above the mark, so nothing is missing and nothing is counted twice.
/// </para>
/// <para>
/// The context index (<c>event_context</c>) is not deferred: each commit writes its events' rows, so the explorer's
/// context filter finds an event as soon as its upload is answered, without waiting on the writer. <c>event_counts</c>
/// stays per commit too, so <c>/stats</c> is exact without one either.
/// </para>
/// </remarks>
internal sealed class SqliteRollupFolder
{
    /// <summary>
    /// The events whose sums may wait in memory before a commit folds them. It bounds the writer's memory (the sums
    /// grow with the distinct keys of these events, at most a few per event) and the work a restart after a crash
    /// redoes (reading and summing this many stored events, well under a second), while already making the upserts per
    /// event a hundred times fewer than per-commit writing at small batches.
    /// </summary>
    public const int FoldThreshold = 20_000;

    private readonly DashboardRollup _pending = new();
    private long _pendingThroughSeq;

    /// <summary>How many committed events the pending sums cover.</summary>
    public int PendingEvents => _pending.EventCount;

    /// <summary>Whether the commit about to be written should fold: the pending sums would reach the threshold, or a reader asked for them.</summary>
    /// <param name="commitEvents">The new events of the commit.</param>
    /// <param name="requested">A reader's barrier is part of the commit.</param>
    public bool ShouldFold(int commitEvents, bool requested)
    {
        int total = _pending.EventCount + commitEvents;
        return total >= FoldThreshold || (requested && total > 0);
    }

    /// <summary>
    /// Writes the pending sums and then the commit's own, in the commit's transaction. The two are written one after the
    /// other rather than added together first: the pending sums must stay as they are until the transaction commits, since
    /// a rollback keeps them pending.
    /// </summary>
    /// <param name="writer">The writer's rollup statements.</param>
    /// <param name="commit">The sums of the commit's new events.</param>
    /// <param name="commitThroughSeq">The largest seq the commit added (0 when it added none).</param>
    public void WriteFold(SqliteRollupWriter writer, DashboardRollup commit, long commitThroughSeq)
    {
        if (_pending.EventCount > 0)
        {
            writer.WriteTotals(_pending, _pendingThroughSeq);
        }

        if (commit.EventCount > 0)
        {
            writer.WriteTotals(commit, commitThroughSeq);
        }
    }

    /// <summary>Called once the commit's transaction has committed: a fold empties the pending sums, any other commit adds its own.</summary>
    /// <param name="folded">The commit wrote a fold (<see cref="WriteFold"/>).</param>
    /// <param name="commit">The sums of the commit's new events.</param>
    /// <param name="commitThroughSeq">The largest seq the commit added (0 when it added none).</param>
    public void Committed(bool folded, DashboardRollup commit, long commitThroughSeq)
    {
        if (folded)
        {
            _pending.Clear();
        }
        else if (commit.EventCount > 0)
        {
            _pending.AddTotals(commit);
            _pendingThroughSeq = commitThroughSeq;
        }
    }

    /// <summary>
    /// Rolls up the stored events above the mark (those whose sums a crash lost) and moves the mark, in transactions of at
    /// most <see cref="FoldThreshold"/> events. Run at start, before the writer commits anything.
    /// </summary>
    /// <param name="connection">An open connection to the file, not in a transaction.</param>
    /// <returns>How many events were rolled up.</returns>
    public static long Recover(SqliteConnection connection)
    {
        long recovered = 0;
        using var writer = new SqliteRollupWriter(connection);
        var sums = new DashboardRollup();
        while (true)
        {
            sums.Clear();
            long throughSeq = 0;
            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            using (SqliteCommand read = connection.CreateCommand())
            {
                read.Transaction = transaction;
                read.CommandText = """
                    SELECT seq, id, type, priority, timestamp_ticks, json FROM events
                    WHERE seq > (SELECT through_seq FROM rollup_mark) ORDER BY seq LIMIT $limit;
                    """;
                read.Parameters.AddWithValue("$limit", FoldThreshold);
                using SqliteDataReader reader = read.ExecuteReader();
                while (reader.Read())
                {
                    throughSeq = reader.GetInt64(0);
                    sums.Add(new StoredEvent(Guid.Parse(reader.GetString(1)), reader.GetString(2), reader.GetString(3), new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero), reader.GetString(5)));
                }
            }

            if (sums.EventCount == 0)
            {
                return recovered;
            }

            writer.WriteTotals(sums, throughSeq);
            transaction.Commit();
            recovered += sums.EventCount;
        }
    }

    /// <summary>
    /// The batch a reader queues to make the writer fold (<see cref="SqliteEventStore.FoldRollupsAsync"/>): it holds no
    /// events, and the writer answers it after the commit that folded, so the reader then sees every event stored before.
    /// </summary>
    public sealed class FoldRequest : IReadOnlyList<StoredEvent>
    {
        /// <summary>The one request: the queue wraps each submission in its own waiter.</summary>
        public static readonly FoldRequest Instance = new();

        private FoldRequest()
        {
        }

        public int Count => 0;

        public StoredEvent this[int index] => throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<StoredEvent> GetEnumerator() => Enumerable.Empty<StoredEvent>().GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
