using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// Copies the write-ahead log back into the database file on a connection of its own, so that the single writer does
/// not. By default SQLite checkpoints in the commit that takes the log past 1,000 pages: the writer then copies a few
/// MiB and waits for two more disk flushes while every request of the next group waits behind it. Here the writer only
/// counts what it committed and, every <see cref="PagesPerCheckpoint"/> pages or so, wakes this loop, which runs a
/// PASSIVE checkpoint (it never blocks the writer or the readers) alongside the next commits.
/// </summary>
/// <remarks>
/// Durability does not depend on it: a commit is on disk in the log (synchronous=FULL) before its requests are answered,
/// and a checkpoint only moves committed pages. Should this loop fall behind or fail, the writer's own automatic
/// checkpoint, set to <see cref="WriterAutoCheckpointPages"/>, still bounds the log.
/// </remarks>
internal sealed class SqliteCheckpointer : IAsyncDisposable
{
    /// <summary>About how many log pages between two background checkpoints (SQLite's default automatic checkpoint).</summary>
    public const int PagesPerCheckpoint = 1000;

    /// <summary>The writer's automatic checkpoint: a backstop far above <see cref="PagesPerCheckpoint"/>.</summary>
    public const int WriterAutoCheckpointPages = 16 * PagesPerCheckpoint;

    // A new event adds about half a page to the log (its row, its index entries and its context rows).
    private const int EventsPerCheckpoint = 2 * PagesPerCheckpoint;

    private readonly Func<SqliteConnection> _open;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Task _loop;
    private long _sinceLast;

    /// <param name="open">Opens a connection to the database.</param>
    public SqliteCheckpointer(Func<SqliteConnection> open)
    {
        _open = open;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Checkpoints that failed (busy, I/O): the next one retries, and the writer's automatic checkpoint is the backstop.</summary>
    public long Failures { get; private set; }

    /// <summary>Called by the writer after each commit (its thread only).</summary>
    /// <param name="events">The events the commit added.</param>
    public void Committed(int events)
    {
        _sinceLast += events;
        if (_sinceLast >= EventsPerCheckpoint)
        {
            _sinceLast = 0;
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>Stops the loop after the checkpoint it may be running.</summary>
    /// <returns>A task that completes when the loop has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        _wake.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        SqliteConnection? connection = null;
        try
        {
            while (await _wake.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                _wake.Reader.TryRead(out _);
                try
                {
                    connection ??= _open();
                    int rc = raw.sqlite3_wal_checkpoint_v2(connection.Handle, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out _, out _);
                    if (rc != raw.SQLITE_OK)
                    {
                        Failures++;
                    }
                }
                catch (SqliteException)
                {
                    Failures++;
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }
}
