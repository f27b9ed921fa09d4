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
internal sealed class SqliteFileLock : IDisposable
{
    private readonly FileStream _file;

    private SqliteFileLock(FileStream file) => _file = file;

    /// <summary>The lock file of the database at <paramref name="databasePath"/>.</summary>
    /// <param name="databasePath">The database file's full path.</param>
    /// <returns>The path with <c>-lock</c> appended.</returns>
    public static string PathFor(string databasePath) => databasePath + "-lock";

    /// <summary>Takes the lock of the database at <paramref name="databasePath"/>, or fails at once.</summary>
    /// <param name="databasePath">The database file's full path (its folder exists).</param>
    /// <returns>The lock, held until disposed.</returns>
    /// <exception cref="InvalidOperationException">Another store (in this process or another) holds it.</exception>
    public static SqliteFileLock Acquire(string databasePath)
    {
        string path = PathFor(databasePath);
        try
        {
            return new SqliteFileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException exception) when (exception is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            throw new InvalidOperationException(
                $"The SQLite database '{databasePath}' is in use by another collector (its lock file '{path}' is held: {exception.Message}). " +
                "A SQLite file takes one collector process at a time: stop the other one first, or give this one another Collector:DatabasePath, " +
                "or use PostgreSQL (Collector:Storage:Provider) to run several instances on one database.",
                exception);
        }
    }

    /// <summary>Releases the lock (the file stays, for the next start).</summary>
    public void Dispose() => _file.Dispose();
}
