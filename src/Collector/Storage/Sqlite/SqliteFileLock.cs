namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>
/// The lock that makes a SQLite database one collector's: <c>&lt;db&gt;-lock</c>, beside the database, held open with
/// <see cref="FileShare.None"/> (an advisory <c>flock</c> on Linux and macOS, a sharing lock on Windows) from the store's
/// start to its dispose. The events writer numbers the events itself (the next <c>seq</c> after the largest it read at
/// its start), and the dashboard's rollup mark assumes that one writer's <c>seq</c> values grow in commit order, so a
/// second process writing the same file would give the same numbers and fail its commits, or leave rollups that miss
/// events. The kernel releases the lock when the process dies (kill -9 included), so a crash never leaves the file
/// locked; the file itself stays, empty, and is reused.
/// </summary>
/// <remarks>
/// One per store: <see cref="Hold"/> takes it (from the store's start, or its events writer's first commit, on their own
/// threads), <see cref="Dispose"/> lets it go for good: a lock taken again after that would have nothing to release it.
/// </remarks>
/// <param name="databasePath">The database file's full path.</param>
internal sealed class SqliteFileLock(string databasePath) : IDisposable
{
    private readonly Lock _gate = new();
    private FileStream? _file;
    private bool _released;

    /// <summary>Takes the lock unless this instance holds it.</summary>
    /// <exception cref="InvalidOperationException">Another store (in this process or another) holds it.</exception>
    /// <exception cref="IOException">The lock file cannot be created or opened (its directory read-only, the disk full).</exception>
    /// <exception cref="ObjectDisposedException">This lock was released: its store is closed.</exception>
    public void Hold()
    {
        lock (_gate)
        {
            if (_released)
            {
                throw new ObjectDisposedException(nameof(SqliteEventStore), $"The store of '{databasePath}' is closed (disposed): create a new one.");
            }

            _file ??= Acquire(databasePath);
        }
    }

    /// <summary>Releases the lock, for good (the file stays, for the next start).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
            _released = true;
        }
    }

    /// <summary>The lock file of the database at <paramref name="databasePath"/>.</summary>
    /// <param name="databasePath">The database file's full path.</param>
    /// <returns>The path with <c>-lock</c> appended.</returns>
    public static string PathFor(string databasePath) => databasePath + "-lock";

    /// <summary>Opens the lock file of the database at <paramref name="databasePath"/> exclusively, or fails at once.</summary>
    private static FileStream Acquire(string databasePath)
    {
        string path = PathFor(databasePath);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException exception) when (IsHeldByAnother(exception))
        {
            throw new InvalidOperationException(
                $"The SQLite database '{databasePath}' is in use by another collector (its lock file '{path}' is held: {exception.Message}). " +
                "A SQLite file takes one collector process at a time: stop the other one first, or give this one another Collector:DatabasePath, " +
                "or use PostgreSQL (Collector:Storage:Provider) to run several instances on one database.",
                exception);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Not held by anyone: the file could not be made or opened (a read-only directory or file system, a full disk,
            // a directory in its place). Saying "in use by another collector" would send the operator after the wrong cause.
            throw new IOException(
                $"The lock file '{path}' of the SQLite database '{databasePath}' could not be opened: {exception.Message} " +
                "The collector creates it beside the database and holds it open while it runs: the directory and the file must be writable.",
                exception);
        }
    }

    /// <summary>
    /// Whether opening the lock file failed because another handle holds it: <c>flock</c>'s EWOULDBLOCK on Unix (which .NET
    /// reports as an <see cref="IOException"/> whose HResult is the errno: 11 on Linux, 35 on macOS and the BSDs), a sharing
    /// or lock violation on Windows. Any other error is the file's own trouble.
    /// </summary>
    private static bool IsHeldByAnother(IOException exception) =>
        OperatingSystem.IsWindows()
            ? (exception.HResult & 0xFFFF) is 32 or 33 // ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
            : exception.GetType() == typeof(IOException) && exception.HResult == (OperatingSystem.IsLinux() ? 11 : 35);
}
