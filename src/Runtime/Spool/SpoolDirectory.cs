using Microsoft.Extensions.Logging;

namespace Instrumentation.Spool;

/// <summary>Opening a spool: the directory is created when missing and locked against a second process.</summary>
internal static class SpoolDirectory
{
    private const string LockFileName = "spool.lock";

    /// <summary>Opens (creating it when missing) and locks the directory, checks and truncates what an earlier process left, and starts a new segment.</summary>
    /// <param name="options">The spool's options.</param>
    /// <param name="now">The time now (for the flush interval).</param>
    /// <param name="logger">Where the spool logs.</param>
    /// <param name="createFile">Creates a segment file for writing; files on disk when null (tests pass one whose writes fail).</param>
    /// <exception cref="InvalidOperationException">The directory cannot be created or used, or another process holds it.</exception>
    public static EventSpool Open(LogManagerOptions options, DateTimeOffset now, ILogger logger, Func<string, ISegmentFile>? createFile = null)
    {
        string directory = Path.GetFullPath(options.SpoolDirectory!);
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidOperationException($"The spool directory '{directory}' cannot be created or used: {exception.Message} Set SpoolDirectory to a writable folder.", exception);
        }

        FileStream lockFile;
        try
        {
            // FileShare.None: a second process (or manager) pointing here fails instead of interleaving writes.
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException exception)
        {
            throw new InvalidOperationException($"The spool directory '{directory}' is in use by another process or LogManager. Give each process its own SpoolDirectory (e.g. a sub-directory per process).", exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new InvalidOperationException($"The spool directory '{directory}' is not writable: {exception.Message}", exception);
        }

        try
        {
            return new EventSpool(options, directory, lockFile, now, logger, createFile ?? SegmentFile.Create);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }
}
