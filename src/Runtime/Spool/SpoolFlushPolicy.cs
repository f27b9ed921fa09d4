namespace Instrumentation;

/// <summary>When the spool's writes are forced to disk (fsync). See docs/reliability.md for the loss window of each.</summary>
public enum SpoolFlushPolicy
{
    /// <summary>Records are written to the operating system after every group commit, never forced to disk: a killed
    /// process loses nothing written, a power loss can lose what the OS had not written back yet.</summary>
    None,

    /// <summary>As <see cref="None"/>, and forced to disk every <see cref="LogManagerOptions.SpoolFlushInterval"/>
    /// (default 200 ms): a power loss loses at most that interval. The default.</summary>
    Interval,

    /// <summary>Every group commit is forced to disk before the recording calls it holds return: nothing a call
    /// returned from is lost. Recording then waits for the disk (concurrent callers share one fsync).</summary>
    Always,
}
