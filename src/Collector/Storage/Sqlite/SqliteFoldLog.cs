using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Storage.Sqlite;

/// <summary>What the fold writer (<see cref="SqliteFoldWriter"/>) tells its log and metrics about the rollup file, in one place.</summary>
internal static class SqliteFoldLog
{
    /// <summary>A failed fold: the first of a run as an error, the next ones (<paramref name="failedInARow"/> above 1) at debug level.</summary>
    public static void FoldFailed(ILogger logger, Exception exception, string path, int failedInARow)
    {
        if (failedInARow == 1)
        {
            logger.LogError(
                exception,
                "The dashboard's rollups could not be written to {RollupPath}: the dashboard pages that need them answer 503 until a fold succeeds, which then reads the events it missed back from the database file. Check that its disk has room, that the file and its directory are writable, and that no other program holds it open. The next failures in a row are logged at debug level",
                path);
        }
        else
        {
            logger.LogDebug(exception, "The dashboard's rollups could not be written to {RollupPath} again (folds failed in a row: {FailedFolds})", path, failedInARow);
        }
    }

    public static void WrittenAgain(ILogger logger, string path, int failedInARow) =>
        logger.LogInformation("The dashboard's rollups are written to {RollupPath} again (folds that had failed in a row: {FailedFolds})", path, failedInARow);

    public static void Damaged(ILogger logger, SqliteException exception, string path) =>
        logger.LogWarning(exception, "The rollup file {RollupPath} is damaged or not a SQLite database; it is deleted and rebuilt from the stored events", path);

    public static void ReadFoundDamaged(ILogger logger, string path) =>
        logger.LogWarning("A dashboard read found the rollup file {RollupPath} damaged; it is deleted and rebuilt from the stored events", path);

    /// <summary>A read met damage the rollup file does not have: the events file's, which no rebuild of the rollups mends.</summary>
    public static void ReadMetDamageElsewhere(ILogger logger, string path) =>
        logger.LogWarning(
            "A dashboard read met a damaged database page, but the rollup file {RollupPath} passes PRAGMA quick_check: the database file itself may be damaged (check it with PRAGMA integrity_check while the collector is stopped). The rollup file is checked again for such reads at most every {Interval}",
            path,
            RollupDamageCheck.MinimumInterval);

    public static void Overflowed(ILogger logger, int capacity, string path, long throughSeq) =>
        logger.LogWarning("The dashboard's rollups fell {Capacity} commits behind the events (is the rollup file {RollupPath} held by another program?): the uploads went on, and the next fold reads the events through seq {Seq} back from the database file", capacity, path, throughSeq);

    public static void RecordFold(long started, string outcome) =>
        StoreMetrics.FoldDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));

    public static void ReadBack(ILogger logger, long events, string path, TimeSpan took) =>
        logger.LogInformation("Read {Events} stored events back into the dashboard's rollups in {RollupPath} ({Seconds:F1} s)", events, path, took.TotalSeconds);
}
