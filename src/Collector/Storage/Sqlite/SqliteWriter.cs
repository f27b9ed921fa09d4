using System.Globalization;
using Instrumentation.Collector.Storage.Rollups;
using Microsoft.Data.Sqlite;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// What the SQLite store's events writer owns: its connection (<c>synchronous=FULL</c>: a commit is on disk when it
/// returns) and prepared statements, and the seq it gives the next event. Each commit hands the sums of its new events
/// to the fold writer (<see cref="SqliteFoldWriter"/>), which keeps the dashboard's rollups in their own file. The
/// <see cref="GroupCommitter"/> loop calls <see cref="Commit"/>, one call at a time; <see cref="Dispose"/> runs after
/// that loop has ended.
/// </summary>
internal sealed class SqliteWriter : IDisposable
{
    private readonly Func<SqliteConnection> _open;
    private readonly TimeProvider _time;
    private readonly SqliteFoldWriter _folds;
    private readonly CountTally _tally = new();
    private SqliteConnection? _connection;
    private RawStatement? _insert;
    private RawStatement? _count;
    private long _lastSeq; // the last seq given, stored or not (a rolled-back one leaves a gap)
    private bool _seqFromFile; // a commit failed, so the next one starts above the file's seqs again

    /// <param name="open">Opens a connection to the store's file.</param>
    /// <param name="time">The clock that stamps each event's <c>received_at</c>.</param>
    /// <param name="folds">The fold writer the sums of each commit go to.</param>
    public SqliteWriter(Func<SqliteConnection> open, TimeProvider time, SqliteFoldWriter folds)
    {
        _open = open;
        _time = time;
        _folds = folds;
    }

    /// <summary>Commits the batches in one transaction and hands its new events' sums to the fold writer.</summary>
    /// <returns>Each batch's result, in order.</returns>
    public InsertResult[] Commit(IReadOnlyList<IReadOnlyList<StoredEvent>> batches)
    {
        var results = new InsertResult[batches.Count];
        (SqliteConnection writer, RawStatement insert, RawStatement count) = Writer();
        if (batches.All(b => b is SqliteRollupFolder.FoldRequest))
        {
            Array.Fill(results, InsertResult.Empty); // readers' wake-ups only: no transaction
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
            return WriteTransaction(writer, insert, count, batches, results);
        }
        catch
        {
            _seqFromFile = true;
            throw;
        }
    }

    private InsertResult[] WriteTransaction(SqliteConnection writer, RawStatement insert, RawStatement count, IReadOnlyList<IReadOnlyList<StoredEvent>> batches, InsertResult[] results)
    {
        _tally.Clear();
        var rollup = new DashboardRollup(); // handed to the fold writer: a new one per commit
        var addedSeqs = new List<long>();
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
                    addedSeqs.Add(seq);
                    isNew[i] = true;
                    added++;
                }
            }

            if (added == events.Count)
            {
                _tally.Add(events.Tally); // every event new: the sums made on the request's thread hold
                rollup.Add(events.Rollup);
            }
            else
            {
                for (int i = 0; i < events.Count; i++)
                {
                    if (isNew[i])
                    {
                        _tally.Add(events[i]);
                        rollup.Add(events[i]);
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

        transaction.Commit();
        if (rollup.EventCount > 0)
        {
            _folds.Committed(rollup, [.. addedSeqs]);
        }

        return results;
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
            string storeId;
            try
            {
                storeId = Prepare(connection);
            }
            catch
            {
                DisposeStatements();
                connection.Dispose();
                throw;
            }

            _connection = connection;
            _folds.Start(storeId, _lastSeq); // once: a writer that started never sets up again
        }

        return (_connection, _insert!, _count!);
    }

    /// <summary>Sets the writer up on <paramref name="writer"/>.</summary>
    /// <returns>The file's <c>store_identity</c>, for the fold writer.</returns>
    private string Prepare(SqliteConnection writer)
    {
        string storeId;
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
        using (SqliteCommand identity = writer.CreateCommand())
        {
            // A row deleted by hand is made again: a new identity, for which the rollup file is rebuilt.
            identity.CommandText = """
                INSERT INTO store_identity (id, store_id) SELECT 1, lower(hex(randomblob(16))) WHERE NOT EXISTS (SELECT 1 FROM store_identity);
                SELECT store_id FROM store_identity;
                """;
            storeId = (string)identity.ExecuteScalar()!;
        }

        _count = new RawStatement(
            writer,
            """
            INSERT INTO event_counts (type, priority, count, first_ticks, last_ticks) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (type, priority) DO UPDATE SET
                count = count + excluded.count,
                first_ticks = MIN(first_ticks, excluded.first_ticks),
                last_ticks = MAX(last_ticks, excluded.last_ticks);
            """);
        return storeId;
    }

    /// <summary>
    /// The seq the writer's next event goes above: each event's seq is one above the last given (schema 6, no
    /// AUTOINCREMENT), starting above every stored seq, so the events above the rollup file's mark are exactly those not
    /// yet folded (<see cref="SqliteRollupFolder"/>). A seq deleted by hand from the end may be given again after a
    /// restart: the rollup file, then ahead of the events, is rebuilt (<see cref="SqliteRollupFile"/>), and a live tail
    /// that had shown the deleted event misses the new ones given its seq or a lower one.
    /// </summary>
    private static long LastStoredSeq(SqliteConnection writer)
    {
        using SqliteCommand last = writer.CreateCommand();
        last.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM events;";
        return (long)last.ExecuteScalar()!;
    }

    /// <summary>Finalizes the writer's statements: they must go before their connection is closed or returned to the pool.</summary>
    private void DisposeStatements()
    {
        _insert?.Dispose();
        _insert = null;
        _count?.Dispose();
        _count = null;
    }
}
