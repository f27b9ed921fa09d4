using System.Collections;
using Instrumentation.Collector.Storage.Rollups;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The dashboard's rollups the SQLite writer has not written yet: the context index rows and the totals of the events of
/// many commits, kept in memory and written to the rollup tables in one go (a "fold"). Both are keyed by context value
/// first, so a commit that wrote them would dirty a page of each table per distinct value it holds (a few hundred with
/// the notebook design's contexts, megabytes of log frames per small commit); a fold of many commits writes each such
/// page once and upserts each totals row once. Owned by the writer loop (every member is called from it, or from
/// <see cref="SqliteEventStore.DisposeAsync"/> after the loop has ended).
/// </summary>
/// <remarks>
/// <para>
/// The table <c>rollup_mark</c> holds the seq through which the rollup tables (the context index included) are
/// complete, moved in the transaction that writes a fold. A seq mark is exact because a SQLite file has one writer (one
/// collector process per file, and in it one writer loop), which gives each event a seq one above the last it gave,
/// starting above the stored seqs and the mark: above every seq committed before it, so the events committed after a fold are exactly those with a seq above its mark, and they
/// are what is pending. A crash loses what is pending only: <see cref="Recover"/> recomputes them from the stored events
/// above the mark before the next writer's first commit, so nothing is missing and nothing is counted twice.
/// </para>
/// <para>
/// <c>event_counts</c> is not deferred: each commit writes it (one row per type and priority), so <c>/stats</c> is exact
/// without waiting on the writer. The dashboard's reads of the deferred tables wait for a fold first (a barrier).
/// </para>
/// </remarks>
internal sealed class SqliteRollupFolder
{
    /// <summary>
    /// The events whose rollups may wait in memory before a commit folds them. It bounds the writer's memory (an index
    /// row per context field of these events, and sums that grow with their distinct keys) and the work a restart after
    /// a crash redoes (reading and summing this many stored events, well under a second), while already making the pages
    /// written per event a hundred times fewer than per-commit writing at small batches.
    /// </summary>
    public const int FoldThreshold = 20_000;

    /// <summary>
    /// The context index rows that may wait in memory before a commit folds them: a second bound, for events with many
    /// context fields (each row holds references to its strings and two numbers, some 50 bytes).
    /// </summary>
    public const int MaxPendingContextRows = 200_000;

    private readonly DashboardRollup _pending = new();
    private readonly List<(string Key, string Value, long Ticks, long Seq)> _pendingRows = [];
    private readonly Dictionary<(string Key, string Value), List<(long Ticks, long Seq)>> _foldRuns = []; // WriteFold's scratch
    private string? _lastKey, _lastValue; // the run RunOf gave last, while WriteFold groups
    private List<(long Ticks, long Seq)>? _lastRun;
    private long _pendingThroughSeq;

    /// <summary>How many committed events the pending sums cover.</summary>
    public int PendingEvents => _pending.EventCount;

    /// <summary>Whether the commit about to be written should fold: what is pending would reach a bound, or a reader asked for it.</summary>
    /// <param name="commit">The sums of the commit's new events.</param>
    /// <param name="requested">Dashboard reads wait for this commit's fold (<see cref="FoldWaiters"/>).</param>
    public bool ShouldFold(DashboardRollup commit, bool requested)
    {
        int total = _pending.EventCount + commit.EventCount;
        return total >= FoldThreshold
            || _pendingRows.Count + commit.ContextRows.Count >= MaxPendingContextRows
            || (requested && total > 0);
    }

    /// <summary>
    /// Writes what is pending and the commit's own, in the commit's transaction: the context index rows of both together,
    /// grouped by value; the totals of each one after the other rather than added together first, since what is pending
    /// must stay as it is until the transaction commits (a rollback keeps it pending).
    /// </summary>
    /// <param name="writer">The writer's rollup statements.</param>
    /// <param name="commit">The sums of the commit's new events.</param>
    /// <param name="commitSeqs">The seq of each of the commit's new events, in the order the sums got them.</param>
    /// <remarks>The caller has checked that <paramref name="commitSeqs"/> has one seq per event of <paramref name="commit"/>.</remarks>
    public void WriteFold(SqliteRollupWriter writer, DashboardRollup commit, IReadOnlyList<long> commitSeqs)
    {
        // Grouped by context value, the values in the index's order and each one's rows in the order they came (by seq,
        // so mostly by time): the index is keyed by (key, value, time, seq), so each of its pages is changed once and in
        // turn, where the order of arrival would go back and forth between the pages of a few hundred values; and a run
        // of one value binds its key and value once. A dictionary, not a sort: one lookup per row.
        try
        {
            foreach ((string key, string value, long ticks, long seq) in _pendingRows)
            {
                RunOf(key, value).Add((ticks, seq));
            }

            foreach ((string key, string value, long ticks, int position) in commit.ContextRows)
            {
                RunOf(key, value).Add((ticks, commitSeqs[position]));
            }

            foreach (((string key, string value), List<(long Ticks, long Seq)> run) in _foldRuns.OrderBy(r => r.Key.Key, StringComparer.Ordinal).ThenBy(r => r.Key.Value, StringComparer.Ordinal))
            {
                // A run left empty is a value of an earlier fold (kept for its list): nothing to write.
                foreach ((long ticks, long seq) in run)
                {
                    writer.WriteContextRow(key, value, ticks, seq);
                }
            }
        }
        finally
        {
            // Also when a write failed half-way (the transaction rolls back, the rows stay pending): the runs hold none of
            // them until the next fold.
            ClearRuns();
        }

        long commitThroughSeq = commitSeqs.Count > 0 ? commitSeqs[^1] : 0;
        if (_pending.EventCount > 0)
        {
            writer.WriteTotals(_pending, _pendingThroughSeq);
        }

        if (commit.EventCount > 0)
        {
            writer.WriteTotals(commit, commitThroughSeq);
        }
    }

    /// <summary>
    /// Empties the runs for the next fold, keeping the lists of the values this fold had (their arrays, some of them
    /// large, are reused instead of allocated again) and dropping the others, so values that come and go do not pile up:
    /// what stays is at most one list per value of the last fold. Called once per fold, at its end: a second call would
    /// find every list empty and drop them all.
    /// </summary>
    private void ClearRuns()
    {
        (_lastKey, _lastValue, _lastRun) = (null, null, null);
        List<(string, string)>? unused = null;
        foreach (((string, string) value, List<(long Ticks, long Seq)> run) in _foldRuns)
        {
            if (run.Count == 0)
            {
                (unused ??= []).Add(value);
            }

            run.Clear();
        }

        foreach ((string, string) value in unused ?? [])
        {
            _foldRuns.Remove(value);
        }
    }

    private List<(long Ticks, long Seq)> RunOf(string key, string value)
    {
        // Rows of one value often come one after the other (every event's, when the context has one field and value).
        if (_lastRun is not null && string.Equals(key, _lastKey, StringComparison.Ordinal) && string.Equals(value, _lastValue, StringComparison.Ordinal))
        {
            return _lastRun;
        }

        if (!_foldRuns.TryGetValue((key, value), out List<(long Ticks, long Seq)>? run))
        {
            run = [];
            _foldRuns.Add((key, value), run);
        }

        (_lastKey, _lastValue, _lastRun) = (key, value, run);
        return run;
    }

    /// <summary>Called once the commit's transaction has committed: a fold empties the pending sums, any other commit adds its own.</summary>
    /// <param name="folded">The commit wrote a fold (<see cref="WriteFold"/>).</param>
    /// <param name="commit">The sums of the commit's new events.</param>
    /// <param name="commitSeqs">The seq of each of the commit's new events, in the order the sums got them.</param>
    public void Committed(bool folded, DashboardRollup commit, IReadOnlyList<long> commitSeqs)
    {
        if (folded)
        {
            _pending.Clear();
            _pendingRows.Clear();
        }
        else if (commit.EventCount > 0)
        {
            _pending.AddTotals(commit);
            foreach ((string key, string value, long ticks, int position) in commit.ContextRows)
            {
                _pendingRows.Add((key, value, ticks, commitSeqs[position]));
            }

            _pendingThroughSeq = commitSeqs[^1];
        }
    }

    /// <summary>
    /// Rolls up the stored events above the mark (those whose sums a crash lost) and moves the mark, in transactions of at
    /// most <see cref="FoldThreshold"/> events. Run by the writer loop before its first commit: an event this store's
    /// writer committed and holds pending would otherwise be counted twice.
    /// </summary>
    /// <param name="connection">The writer's connection, not in a transaction.</param>
    /// <returns>How many events were rolled up.</returns>
    public static long Recover(SqliteConnection connection)
    {
        long recovered = 0;
        using var writer = new SqliteRollupWriter(connection);
        var sums = new DashboardRollup();
        var seqs = new List<long>();
        while (true)
        {
            sums.Clear();
            seqs.Clear();
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
                    seqs.Add(reader.GetInt64(0));
                    sums.Add(new StoredEvent(IdOf(reader.GetFieldValue<byte[]>(1)), reader.GetString(2), reader.GetString(3), new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero), reader.GetString(5)));
                }
            }

            if (sums.EventCount == 0)
            {
                return recovered;
            }

            // The context index rows too: the ones a crash lost were never written (any that were are left as they are).
            writer.WriteContextRows(sums, seqs);
            writer.WriteTotals(sums, seqs[^1]);
            transaction.Commit();
            recovered += sums.EventCount;
        }
    }

    /// <summary>The id the <c>id</c> column holds (schema 6: 16 bytes; the text's bytes for an id that was not a canonical UUID).</summary>
    private static Guid IdOf(byte[] stored) => stored.Length == 16 ? new Guid(stored, bigEndian: true) : Guid.Empty;

    /// <summary>
    /// The batch a reader queues to wake the writer for a fold (<see cref="SqliteEventStore.FoldRollupsAsync"/>): it holds
    /// no events and asks for nothing itself; the reader waits on <see cref="FoldWaiters"/>, which the writer's next commit answers.
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
