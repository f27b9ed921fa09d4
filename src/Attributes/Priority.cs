namespace Instrumentation
{
    /// <summary>How urgently an event is uploaded.</summary>
    public enum Priority
    {
        /// <summary>Uploaded at once, one request per event (for rare, important events such as a notebook visit).</summary>
        Immediate = 0,

        /// <summary>Buffered and uploaded in batches (for frequent events such as cell runs or copy/paste).</summary>
        Batch = 1,
    }
}
