using System.Collections;
using Instrumentation.Collector.Storage.Rollups;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The dashboard's rollups not written yet: the context index rows and the totals of the events of many commits of the
/// events file, kept in memory and written to the rollup file (<see cref="SqliteRollupFile"/>) in one go (a "fold").
/// Both are keyed by context value first, so writing them per commit would dirty a page of each table per distinct value
/// (a few hundred with the notebook design's contexts); a fold of many commits writes each such page once and upserts
/// each totals row once. Owned by the fold writer's loop (<see cref="SqliteFoldWriter"/>).
/// </summary>
/// <remarks>
/// The rollup file's <c>rollup_mark</c> holds the seq of the events file through which its tables (the context index
/// included) are complete, moved in the transaction that writes a fold. A seq mark is exact because the events file has
/// one writer (one collector process per file, and in it one writer loop), which gives each event a seq one above the
/// last it gave, starting above the stored seqs: the events committed after a fold are exactly those with a seq above its
/// mark, and they are what is pending. What is pending can always be read back from the events file
/// (<see cref="Recover"/>): after a crash (the next start does it), and after a fold that failed (its pending sums are
/// dropped, not kept to grow while the file refuses them).
/// <c>event_counts</c> is not deferred: each commit of the events file writes it, so <c>/stats</c> is exact without
/// waiting on a fold. The dashboard's reads of the rollup tables wait for a fold first (a barrier).
/// </remarks>
internal sealed class SqliteRollupFolder
{
    /// <summary>
    /// The events whose rollups may wait in memory before the fold writer folds them. It bounds the fold writer's memory (an index
    /// row per context field of these events, and sums that grow with their distinct keys) and the work a restart after
    /// a crash redoes (reading and summing this many stored events, well under a second), while already making the pages
    /// written per event a hundred times fewer than per-commit writing at small batches.
    /// </summary>
    public const int FoldThreshold = 20_000;

    /// <summary>
    /// The context index rows that may wait in memory before the fold writer folds them: a second bound, for events with many
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

    /// <summary>Whether what is pending has reached a bound, so the fold writer should write it now.</summary>
    public bool Due => _pending.EventCount >= FoldThreshold || _pendingRows.Count >= MaxPendingContextRows;

    /// <summary>Adds a commit's new events to what is pending.</summary>
    /// <param name="commit">The sums of the commit's new events.</param>
    /// <param name="commitSeqs">The seq of each of them, in the order the sums got them.</param>
    public void Add(DashboardRollup commit, IReadOnlyList<long> commitSeqs)
    {
        if (commitSeqs.Count != commit.EventCount)
        {
            throw new InvalidOperationException($"The commit added {commitSeqs.Count} events but its rollup sums {commit.EventCount}.");
        }

        if (commit.EventCount == 0)
        {
            return;
        }

        _pending.AddTotals(commit);
        foreach ((string key, string value, long ticks, int position) in commit.ContextRows)
        {
            _pendingRows.Add((key, value, ticks, commitSeqs[position]));
        }

        _pendingThroughSeq = commitSeqs[^1];
    }

    /// <summary>Forgets what is pending: once it is written (the fold committed), or to be read back from the events file.</summary>
    public void Clear()
    {
        _pending.Clear();
        _pendingRows.Clear();
    }

    /// <summary>
    /// Writes what is pending, in the caller's transaction on the rollup file: the context index rows grouped by value,
    /// then the totals, which move the mark to the last pending seq. The caller clears it once the transaction commits.
    /// </summary>
    /// <param name="writer">The rollup file's statements.</param>
    public void WriteFold(SqliteRollupWriter writer)
    {
        if (_pending.EventCount == 0)
        {
            return;
        }

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
            // Also when a write failed half-way: the runs hold none of the rows until the next fold.
            ClearRuns();
        }

        writer.WriteTotals(_pending, _pendingThroughSeq);
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

    /// <summary>
    /// Rolls up the stored events above the rollup file's mark through <paramref name="throughSeq"/> (those whose sums a
    /// crash or a failed fold lost) and moves the mark, in transactions of at most <see cref="FoldThreshold"/> events.
    /// Nothing above <paramref name="throughSeq"/> is read: those events are pending, or coming, in the fold writer.
    /// </summary>
    /// <param name="rollups">The rollup file's connection, not in a transaction.</param>
    /// <param name="store">A connection to the events file.</param>
    /// <param name="throughSeq">The last seq to read back.</param>
    /// <param name="cancellationToken">Stops between transactions (what is committed stays, the mark with it).</param>
    /// <returns>How many events were rolled up.</returns>
    public static long Recover(SqliteConnection rollups, SqliteConnection store, long throughSeq, CancellationToken cancellationToken)
    {
        long recovered = 0;
        using var writer = new SqliteRollupWriter(rollups);
        var sums = new DashboardRollup();
        var seqs = new List<long>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            sums.Clear();
            seqs.Clear();
            using SqliteTransaction transaction = rollups.BeginTransaction(deferred: false);
            long mark;
            using (SqliteCommand readMark = rollups.CreateCommand())
            {
                readMark.Transaction = transaction;
                readMark.CommandText = "SELECT through_seq FROM rollup_mark;";
                mark = (long)readMark.ExecuteScalar()!;
            }

            using (SqliteCommand read = store.CreateCommand())
            {
                read.CommandText = """
                    SELECT seq, id, type, priority, timestamp_ticks, json FROM events
                    WHERE seq > $mark AND seq <= $through ORDER BY seq LIMIT $limit;
                    """;
                read.Parameters.AddWithValue("$mark", mark);
                read.Parameters.AddWithValue("$through", throughSeq);
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
    /// The batch a reader queues to wake the events' writer for a fold (<see cref="SqliteEventStore.FoldRollupsAsync"/>): it
    /// holds no events and asks for nothing itself; the reader waits on <see cref="FoldWaiters"/>, which the writer's next
    /// commit hands, after its own events, to the fold writer.
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
