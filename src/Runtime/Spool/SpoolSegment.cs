namespace Instrumentation.Spool;

/// <summary>One append-only segment file of the spool, and what the uploader has done with its records.</summary>
internal sealed class SpoolSegment(long number, string path, bool fromEarlierProcess)
{
    public long Number { get; } = number;

    public string Path { get; } = path;

    /// <summary>Written by a process that has ended: its records are replayed and get new ordinals.</summary>
    public bool FromEarlierProcess { get; } = fromEarlierProcess;

    /// <summary>Bytes of valid records in the file.</summary>
    public long Length { get; set; }

    /// <summary>When its newest record was recorded (Unix ms), for the age cap.</summary>
    public long NewestRecordUnixMs { get; set; }

    /// <summary>Records handed to the upload lanes and not yet delivered or dead-lettered.</summary>
    public int LoadedUnresolved { get; set; }

    /// <summary>The file was deleted (delivered, or dropped by a cap).</summary>
    public bool Deleted { get; set; }

    public static string FileName(long number) => number.ToString("D12", System.Globalization.CultureInfo.InvariantCulture) + ".seg";
}
