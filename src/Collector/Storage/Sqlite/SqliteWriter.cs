using System.Globalization;
using Instrumentation.Collector.Storage.Rollups;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// What the SQLite store's single writer owns: its connection (<c>synchronous=FULL</c>: a commit is on disk when it
/// returns) and prepared statements, the seq it gives the next event, and the dashboard's rollups it has not written
/// yet (<see cref="SqliteRollupFolder"/>). The <see cref="GroupCommitter"/> loop calls <see cref="Commit"/>, one call at
/// a time, and <see cref="FoldPending"/> when such a commit failed; <see cref="FoldPending"/> and <see cref="Dispose"/>
/// also run after that loop has ended.
/// </summary>
internal sealed class SqliteWriter : IDisposable
{
    private readonly Func<SqliteConnection> _open;
    private readonly TimeProvider _time;
    private readonly CountTally _tally = new();
    private readonly DashboardRollup _rollup = new();
    private readonly List<long> _addedSeqs = [];
    private readonly SqliteRollupFolder _folder = new();
    private SqliteRollupWriter? _rollupWriter;
    private SqliteConnection? _connection;
    private RawStatement? _insert;
    private RawStatement? _count;
    private long _lastSeq; // the last seq given, stored or not (a rolled-back one leaves a gap)
    private bool _seqFromFile; // a commit failed, so the next one starts above the file's seqs again
    private bool _recovered; // the events a previous process left above the mark are rolled up

    /// <param name="open">Opens a connection to the store's file.</param>
    /// <param name="time">The clock that stamps each event's <c>received_at</c>.</param>
    public SqliteWriter(Func<SqliteConnection> open, TimeProvider time)
    {
        _open = open;
        _time = time;
    }

    /// <summary>Commits the batches in one transaction, folding when <paramref name="foldRequested"/> or at the threshold.</summary>
    /// <returns>Each batch's result, in order.</returns>
    public InsertResult[] Commit(IReadOnlyList<IReadOnlyList<StoredEvent>> batches, bool foldRequested)
    {
        var results = new InsertResult[batches.Count];
        (SqliteConnection writer, RawStatement insert, RawStatement count) = Writer();
        if (!_recovered)
        {
            // Before this writer's first commit (a failure leaves it for the next): the events above the mark are then
            // exactly those a previous process stored and never folded, none of them pending here.
            SqliteRollupFolder.Recover(writer);
            _recovered = true;
        }

        if ((_folder.PendingEvents == 0 || !foldRequested) && batches.All(b => b is SqliteRollupFolder.FoldRequest))
        {
            Array.Fill(results, InsertResult.Empty); // readers' wake-ups with nothing to fold, or folded already: no transaction
            return results;
        }

        if (_seqFromFile)
        {
            // A seq this writer would give may be taken (a row another program wrote, which the constraint on seq refused):
            // without this, every later commit would fail on it. Never below what this writer gave.
            _lastSeq = Math.Max(_lastSeq, LastStoredSeq(writer));
            _seqFromFile = false;
        }

        try
        {
            return WriteTransaction(writer, insert, count, batches, results, foldRequested);
        }
        catch
        {
            _seqFromFile = true;
            throw;
        }
    }

    private InsertResult[] WriteTransaction(SqliteConnection writer, RawStatement insert, RawStatement count, IReadOnlyList<IReadOnlyList<StoredEvent>> batches, InsertResult[] results, bool foldRequested)
    {
        _tally.Clear();
        _rollup.Clear();
        _addedSeqs.Clear();
        using SqliteTransaction transaction = writer.BeginTransaction(deferred: false);
        Span<byte> text = stackalloc byte[64];
        _time.GetUtcNow().TryFormat(text, out int length, "O", CultureInfo.InvariantCulture);
        insert.Bind(6, text[..length]); // received_at: one value for the whole transaction
        for (int b = 0; b < batches.Count; b++)
        {
            if (batches[b] is not PreparedBatch events) // InsertAsync queues nothing else; FoldRollupsAsync a wake-up
            {
                results[b] = InsertResult.Empty;
                continue;
            }

            bool[] isNew = new bool[events.Count];
            int added = 0;
            for (int i = 0; i < events.Count; i++)
            {
                StoredEvent item = events[i];
                long seq = _lastSeq + 1;
                insert.Bind(8, seq);
                insert.BindBlob(1, events.IdBytes(i));
                insert.Bind(4, events.TimestampText(i));
                insert.Bind(2, item.Type);
                insert.Bind(3, item.Priority);
                insert.Bind(5, item.Timestamp.UtcTicks);
                insert.Bind(7, item.Utf8Json.Span);
                if (insert.Execute() == 1)
                {
                    // The context index is keyed by seq. The seqs go in the order the rollup below gets the new events (a
                    // batch's sums cover its events in order), which is how its rows refer to them.
                    _lastSeq = seq;
                    _addedSeqs.Add(seq);
                    isNew[i] = true;
                    added++;
                }
            }

            if (added == events.Count)
            {
                _tally.Add(events.Tally); // every event new: the sums made on the request's thread hold
                _rollup.Add(events.Rollup);
            }
            else
            {
                for (int i = 0; i < events.Count; i++)
                {
                    if (isNew[i])
                    {
                        _tally.Add(events[i]);
                        _rollup.Add(events[i]);
                    }
                }
            }

            results[b] = new InsertResult(isNew);
        }

        foreach ((string type, string priority, CountTally.Entry entry) in _tally.Ordered())
        {
            count.Bind(1, type);
            count.Bind(2, priority);
            count.Bind(3, entry.Count);
            count.Bind(4, entry.FirstTicks);
            count.Bind(5, entry.LastTicks);
            count.Execute();
        }

        if (_addedSeqs.Count != _rollup.EventCount)
        {
            throw new InvalidOperationException($"The commit added {_addedSeqs.Count} events but its rollup sums {_rollup.EventCount}.");
        }

        bool fold = _folder.ShouldFold(_rollup, foldRequested);
        if (fold)
        {
            _folder.WriteFold(_rollupWriter!, _rollup, _addedSeqs);
        }

        transaction.Commit();
        _folder.Committed(fold, _rollup, _addedSeqs);
        return results;
    }

    /// <summary>Whether the events a previous process left above the mark are rolled up (a fold before that covers too little).</summary>
    public bool Recovered => _recovered;

    /// <summary>
    /// Writes the pending sums, if any, in a transaction of their own: for the store's dispose, after the writer loop has
    /// ended, and in that loop for the dashboard reads whose commit failed on its uploads.
    /// </summary>
    public void FoldPending()
    {
        // Should this fail, the next start recomputes them from the stored events.
        if (_connection is not null && _folder.PendingEvents > 0)
        {
            using SqliteTransaction transaction = _connection.BeginTransaction(deferred: false);
            var none = new DashboardRollup();
            _folder.WriteFold(_rollupWriter!, none, []);
            transaction.Commit();
            _folder.Committed(folded: true, none, []);
        }
    }

    /// <summary>Finalizes the statements and closes the connection.</summary>
    public void Dispose()
    {
        DisposeStatements();
        _connection?.Dispose();
        _connection = null;
    }

    private (SqliteConnection, RawStatement, RawStatement) Writer()
    {
        if (_connection is null)
        {
            // Set up on a local and kept only when complete: a failure half-way (the file unreadable, a pragma refused)
            // leaves no half-made writer behind, and the next commit tries again.
            SqliteConnection connection = _open();
            try
            {
                Prepare(connection);
            }
            catch
            {
                DisposeStatements();
                connection.Dispose();
                throw;
            }

            _connection = connection;
        }

        return (_connection, _insert!, _count!);
    }

    private void Prepare(SqliteConnection writer)
    {
        using (SqliteCommand pragma = writer.CreateCommand())
        {
            // FULL: a commit is on disk when it returns (the request is answered after it). A larger page cache keeps
            // the id index's pages in memory: ids are random, so each insert touches a random leaf page.
            pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;";
            pragma.ExecuteNonQuery();
        }

        _insert = new RawStatement(
            writer,
            """
            INSERT INTO events (id, type, priority, timestamp, timestamp_ticks, received_at, json, seq)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT (id) DO NOTHING;
            """);
        _lastSeq = LastStoredSeq(writer);

        _count = new RawStatement(
            writer,
            """
            INSERT INTO event_counts (type, priority, count, first_ticks, last_ticks) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (type, priority) DO UPDATE SET
                count = count + excluded.count,
                first_ticks = MIN(first_ticks, excluded.first_ticks),
                last_ticks = MAX(last_ticks, excluded.last_ticks);
            """);
        _rollupWriter = new SqliteRollupWriter(writer);
    }

    /// <summary>
    /// The seq the writer's next event goes above. Each event's seq is one above the last given (schema 6, no
    /// AUTOINCREMENT), starting above every stored seq and the rollup mark: the events above the mark are then exactly
    /// those not yet rolled up (<see cref="SqliteRollupFolder"/>), even after the newest rows were deleted by hand. Such a
    /// deleted seq may be given again (after a restart): the explorer's pages order by time first, but a live tail that
    /// had shown the deleted event misses the new ones given its seq or a lower one.
    /// </summary>
    private static long LastStoredSeq(SqliteConnection writer)
    {
        using SqliteCommand last = writer.CreateCommand();
        last.CommandText = "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0), (SELECT through_seq FROM rollup_mark));";
        return (long)last.ExecuteScalar()!;
    }

    /// <summary>Finalizes the writer's statements: they must go before their connection is closed or returned to the pool.</summary>
    private void DisposeStatements()
    {
        _insert?.Dispose();
        _insert = null;
        _count?.Dispose();
        _count = null;

        _rollupWriter?.Dispose();
        _rollupWriter = null;
    }
}
