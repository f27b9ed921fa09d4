using System.Threading.Channels;
using Instrumentation.Collector.Storage.Rollups;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The SQLite store's second writer: it keeps the dashboard's rollups in their own file (<see cref="SqliteRollupFile"/>),
/// on a loop of its own, so folding them takes neither the events file's write lock nor the events writer's time. The
/// events writer (<see cref="SqliteWriter"/>) hands it, in order, where it starts, the sums of each commit once
/// committed, and the dashboard reads that wait for a fold; the loop adds the sums up (<see cref="SqliteRollupFolder"/>)
/// and writes them when they reach the fold threshold, when readers wait, and when the store closes.
/// </summary>
/// <remarks>
/// <para>
/// Every piece of state but the queue and the overflow mark is the loop's alone. The queue is bounded: should the loop
/// fall that far behind, the events writer drops the sums it cannot queue rather than hold an unbounded backlog in
/// memory or wait, and leaves the seq of the last of them in the overflow mark, which the loop takes to read them back.
/// </para>
/// <para>
/// A fold that fails (the rollup file's disk full, the file locked by another program) fails the readers waiting for it
/// and drops the pending sums; the next fold reads those events back from the events file first, so the rollups miss
/// nothing and the memory they take stays bounded whatever the rollup file does. A file found damaged (SQLITE_CORRUPT)
/// is a cache that cannot heal: the fold deletes it and rebuilds it from the events file at once (damage that a
/// dashboard read meets first has the read ask for a check, <see cref="CheckForDamage"/>). The uploads never
/// wait on a fold: should the queue fill (a fold stuck a full queue of commits long on a locked, slow or rebuilding
/// rollup file), the events writer drops the sums it cannot queue, and the loop reads their events back instead. A run
/// of failed folds is logged once as an error (the next failures at debug level, each dashboard read they fail being
/// logged by the host with its 503), and the fold that ends it as information. The store's close does not wait for a
/// read-back still owed (the final fold's is cancelled before its first transaction): the next start does it.
/// </para>
/// </remarks>
internal sealed class SqliteFoldWriter : IAsyncDisposable
{
    /// <summary>Items the events writer may hand over before the loop must catch up (each a commit's sums, or readers).</summary>
    public const int DefaultQueueCapacity = 4096;

    private readonly Channel<FoldWork> _work;
    private readonly int _queueCapacity;

    private readonly string _path;
    private readonly ILogger _logger;
    private readonly Func<SqliteConnection> _openStore;
    private readonly SqliteRollupFolder _folder = new();
    private readonly List<TaskCompletionSource> _readers = [];
    private readonly CancellationTokenSource _closing = new(); // stops a read-back when the store closes
    private readonly Task _loop;
    private SqliteConnection? _connection;
    private SqliteRollupWriter? _writer;
    private string? _storeId;
    private long _startSeq;
    private bool _opened; // the rollup file was opened once (and checked against the start)
    private long _lastSeq; // the last seq handed over; a failed fold reads back from the mark to it
    private long _readBackThrough; // the events above the mark through this seq are read back from the events file before the next fold
    private int _failedFolds; // folds failed in a row: the first is logged as an error, the next ones at debug level, until one succeeds
    private long _overflowThrough; // the events writer's (Volatile), taken by the loop: the last seq of sums a full queue did not take
    private long _skipThrough; // sums at or below this seq were queued before an overflow: their events are read back instead
    private readonly RollupDamageCheck _damageCheck; // dashboard reads that met damage ask for a check of the file

    /// <param name="path">The rollup file.</param>
    /// <param name="openStore">Opens a reader connection to the events file (to read events back).</param>
    /// <param name="logger">Where failed folds, discarded files and read-backs are told (none: not told).</param>
    /// <param name="queueCapacity">Items the events writer may hand over before the loop must catch up.</param>
    /// <param name="timeProvider">The clock that spaces the checks dashboard reads ask for (default: the system clock).</param>
    public SqliteFoldWriter(string path, Func<SqliteConnection> openStore, ILogger? logger = null, int queueCapacity = DefaultQueueCapacity, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _queueCapacity = queueCapacity;
        _work = Channel.CreateBounded<FoldWork>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = true,
            SingleWriter = false, // the events writer, and the dashboard reads that ask for a check (CheckForDamage)
            FullMode = BoundedChannelFullMode.Wait,
        });
        _path = path;
        _openStore = openStore;
        _logger = logger ?? NullLogger.Instance;
        _damageCheck = new RollupDamageCheck(timeProvider ?? TimeProvider.System);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>
    /// Where the events writer starts: the events file's identity and its largest seq then. The first fold makes the
    /// rollup file match (emptied if it belongs to another file or is ahead of this one) and reads back what it lacks up
    /// to that seq. Only the first start counts: the events above it are handed over as they commit.
    /// </summary>
    public void Start(string storeId, long lastSeq) => Post(new FoldWork(storeId, lastSeq, null, null, null));

    /// <summary>
    /// Hands over the sums of a commit that has committed. Never waits: if the loop is a full queue behind (a rollup
    /// file locked by another program, or slow), the sums are dropped and the loop reads their events back from the
    /// events file instead, so the uploads never wait for the rollup file.
    /// </summary>
    /// <param name="sums">The sums of its new events (not changed after this call).</param>
    /// <param name="seqs">Their seqs, in the order the sums got them (at least one).</param>
    public void Committed(DashboardRollup sums, long[] seqs)
    {
        if (!_work.Writer.TryWrite(new FoldWork(null, 0, sums, seqs, null)))
        {
            // Seqs only grow, and this thread alone writes: the loop takes the last value, which covers the earlier ones.
            Volatile.Write(ref _overflowThrough, seqs[^1]);
            StoreMetrics.FoldOverflows.Add(1);
        }
    }

    /// <summary>
    /// Hands over readers waiting for a fold: they are answered once a fold covering every commit handed over before
    /// them has committed, or fail with its error (or with <paramref name="error"/> if the events writer never started).
    /// Never waits: with the loop a full queue behind they fail at once (a <see cref="TimeoutException"/>, which the
    /// collector answers with 503), as the fold they wait for would be long in coming.
    /// </summary>
    public void Fold(TaskCompletionSource readers, Exception? error = null)
    {
        if (!_work.Writer.TryWrite(new FoldWork(null, 0, null, null, readers, error)))
        {
            readers.TrySetException(_work.Reader.Completion.IsCompleted
                ? new ObjectDisposedException(nameof(SqliteEventStore), "The store is closed.")
                : new TimeoutException($"The dashboard's rollups are more than {_queueCapacity:N0} commits behind the events (is the rollup file '{_path}' held by another program?); ask again later."));
        }
    }

    /// <summary>Whether the last fold failed (the rollup file full, locked or unwritable): the dashboard's pages answer 503 until one succeeds.</summary>
    public bool Failing => Volatile.Read(ref _failedFolds) > 0;

    /// <summary>
    /// Asks for the rollup file to be checked (<c>PRAGMA quick_check</c>) with the next fold, and rebuilt from the events
    /// file if it is damaged: a dashboard read met damage (SQLITE_CORRUPT) in pages no fold had touched. Any thread; never
    /// waits. Requests are coalesced, and checks spaced by <see cref="RollupDamageCheck.MinimumInterval"/>.
    /// </summary>
    public void CheckForDamage()
    {
        if (_damageCheck.Request())
        {
            // A wake for an idle loop; with the queue full the loop has items to take, and takes the request with them.
            _work.Writer.TryWrite(new FoldWork(null, 0, null, null, null, Check: true));
        }
    }

    /// <summary>
    /// Folds what it holds, answers the readers still waiting, and closes the rollup file. A read-back in progress (a
    /// rebuild of the whole file, at a first start of schema 7 on a large store) stops at its next transaction instead of
    /// holding the shutdown until it is done: the mark keeps what it committed, and the next start reads back the rest.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        _work.Writer.TryComplete();
        await _loop.ConfigureAwait(false); // _closing is not disposed: a second dispose cancels it again (it has no timer)
    }

    private void Post(FoldWork work)
    {
        if (!_work.Writer.TryWrite(work))
        {
            // Only the start is posted this way, before any commit: a full queue then is readers alone, which the loop
            // takes without touching a file. Waiting for room is short.
            _work.Writer.WriteAsync(work).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Takes the events writer's last overflow, if any: the pending sums (all of seqs at or below it) are dropped, the
    /// sums still queued from before it are skipped, and the next fold reads all those events back.
    /// </summary>
    private void TakeOverflow()
    {
        long lost = Interlocked.Exchange(ref _overflowThrough, 0);
        if (lost <= _skipThrough)
        {
            return;
        }

        SqliteFoldLog.Overflowed(_logger, _queueCapacity, _path, lost);
        _folder.Clear();
        _skipThrough = lost;
        _lastSeq = Math.Max(_lastSeq, lost);
        _readBackThrough = Math.Max(_readBackThrough, lost);
    }

    private async Task LoopAsync()
    {
        ChannelReader<FoldWork> reader = _work.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out FoldWork? work))
            {
                try
                {
                    Take(work);
                }
                catch (Exception exception)
                {
                    // Sums that do not add up (a bug): dropped, and their events read back from the events file instead.
                    // Told, or the bug would only show as read-backs.
                    _logger.LogError(exception, "The dashboard's pending rollup sums could not be added up (a bug); they are dropped and the next fold reads their events back from the database file into {RollupPath}", _path);
                    _folder.Clear();
                    _readBackThrough = _lastSeq;
                }

                bool check = _damageCheck.TakeDue();
                if (_readers.Count > 0 || _folder.Due || check)
                {
                    FoldNow(check);
                }
            }
        }

        FoldNow(); // the store is closing: what is pending goes to the file
        _writer?.Dispose();
        _connection?.Dispose();
    }

    private void Take(FoldWork work)
    {
        if (work.Check)
        {
            return; // a wake only: the request is the damage check's
        }

        if (work.StoreId is not null)
        {
            if (_storeId is null)
            {
                (_storeId, _startSeq, _lastSeq, _readBackThrough) = (work.StoreId, work.StartSeq, work.StartSeq, work.StartSeq);
            }
        }
        else if (work.Sums is not null)
        {
            TakeOverflow();
            if (work.Seqs!.Length > 0 && work.Seqs[^1] <= _skipThrough)
            {
                return; // queued before an overflow: read back with it
            }

            if (work.Seqs.Length > 0)
            {
                _lastSeq = work.Seqs[^1];
            }

            _folder.Add(work.Sums, work.Seqs);
        }
        else if (_storeId is null)
        {
            // The events writer never started (its first commit failed): there is no file to fold into yet.
            work.Readers!.TrySetException(work.Error ?? new InvalidOperationException("The SQLite store's writer has not started."));
        }
        else
        {
            _readers.Add(work.Readers!);
        }
    }

    /// <summary>Reads back what it must, writes what is pending, checks the file if a read met damage, and answers the readers.</summary>
    private void FoldNow(bool check = false)
    {
        if (_storeId is null)
        {
            return; // never started: nothing was handed over
        }

        TakeOverflow();

        long foldStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            try
            {
                FoldOnce();
                if (check)
                {
                    CheckAfterRead(); // after the fold, which opened the file if a failure had closed it
                }
            }
            catch (SqliteException exception) when (SqliteRollupFile.IsDamaged(exception) && _connection is not null && !SqliteRollupFile.IsIntact(_connection))
            {
                // Damaged past the pages its open reads (a disk error, a torn copy): every fold would fail on it, at this
                // start and the next ones. It is a cache: deleted, and rebuilt from the events file by this same fold.
                // (Checked first: the damage may be the events file's, met by a read-back, which a rebuild would not mend.)
                SqliteFoldLog.Damaged(_logger, exception, _path);
                Rebuild();
            }

            if (_failedFolds > 0)
            {
                SqliteFoldLog.WrittenAgain(_logger, _path, _failedFolds);
                _failedFolds = 0;
            }

            SqliteFoldLog.RecordFold(foldStarted, "committed"); // before the readers are answered, as every account of the fold
            foreach (TaskCompletionSource readers in _readers)
            {
                readers.TrySetResult();
            }
        }
        catch (Exception exception)
        {
            Exception error = exception is OperationCanceledException && _closing.IsCancellationRequested
                ? new ObjectDisposedException(nameof(SqliteEventStore), "The store closed before the rollup file had caught up with the events; the next start reads the rest back.")
                : exception;
            if (error == exception)
            {
                // Otherwise seen only by the dashboard pages that waited for this fold (503, each logged by the host), if
                // any: a fold at the threshold has no reader, and a rollup file that keeps refusing would go unnoticed.
                // Told before the readers are answered, so that the line is there when they see the error. Once per run of
                // failures: a file that stays full or locked would otherwise log an error at every threshold and every
                // dashboard read until it is mended; the fold that succeeds again says so.
                SqliteFoldLog.FoldFailed(_logger, exception, _path, ++_failedFolds);
            }

            SqliteFoldLog.RecordFold(foldStarted, "failed");
            foreach (TaskCompletionSource readers in _readers)
            {
                readers.TrySetException(error);
            }

            Drop();
        }
        finally
        {
            _readers.Clear();
        }
    }

    private void FoldOnce()
    {
        if (_connection is null)
        {
            // The first open checks the file against where the events writer started (a mark above that is a file
            // ahead of the events, emptied); a later one, after a failure, against the last seq handed over, which the
            // folds since the start may have reached.
            (_connection, SqliteException? discarded) = SqliteRollupFile.Open(_path, _storeId!, _opened ? _lastSeq : _startSeq);
            _opened = true;
            if (discarded is not null)
            {
                SqliteFoldLog.Damaged(_logger, discarded, _path);
            }

            _writer = new SqliteRollupWriter(_connection);
        }

        if (_readBackThrough > 0)
        {
            using SqliteConnection store = _openStore();
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            long events = SqliteRollupFolder.Recover(_connection, store, _readBackThrough, _closing.Token);
            _readBackThrough = 0;
            if (events > 0)
            {
                StoreMetrics.ReadBackEvents.Add(events);
                SqliteFoldLog.ReadBack(_logger, events, _path, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            }
        }

        if (_folder.PendingEvents > 0)
        {
            using SqliteTransaction transaction = _connection.BeginTransaction(deferred: false);
            _folder.WriteFold(_writer!);
            transaction.Commit();
            _folder.Clear();
        }
    }

    /// <summary>A read met damage no fold had met: a rollup file failing <c>quick_check</c> is rebuilt; one passing it is told.</summary>
    private void CheckAfterRead()
    {
        if (SqliteRollupFile.IsIntact(_connection!))
        {
            SqliteFoldLog.ReadMetDamageElsewhere(_logger, _path);
            return;
        }

        SqliteFoldLog.ReadFoundDamaged(_logger, _path);
        Rebuild();
    }

    /// <summary>Deletes the damaged file and folds into a new one, which reads every event back from the events file.</summary>
    private void Rebuild()
    {
        Drop();
        SqliteRollupFile.Discard(_path);
        FoldOnce();
    }

    /// <summary>
    /// After a failed fold: bounded memory whatever the file does, so the pending sums go and the next fold reads their
    /// events back; the connection goes too, so that the next fold opens the file afresh (checking it again).
    /// </summary>
    private void Drop()
    {
        _folder.Clear();
        _readBackThrough = _lastSeq;
        _writer?.Dispose();
        _writer = null;
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>One item of the queue: a start, a commit's sums, readers, or a check for damage.</summary>
    private sealed record FoldWork(string? StoreId, long StartSeq, DashboardRollup? Sums, long[]? Seqs, TaskCompletionSource? Readers, Exception? Error = null, bool Check = false);
}
