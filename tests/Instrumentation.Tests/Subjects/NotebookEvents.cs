namespace Instrumentation.Tests.Subjects;

public enum CellKind
{
    Code,
    Markdown,
    Raw,
}

[Flags]
public enum Permissions : byte
{
    None = 0,
    Read = 1,
    Write = 2,
}

/// <summary>Partial-method events, as a user writes them.</summary>
public static partial class NotebookEvents
{
    [LogEvent(Priority.Immediate, Name = "notebook")]
    public static partial void NotebookVisited(string notebookId, TimeSpan duration);

    [LogEvent(Priority.Batch, Name = "cell")]
    public static partial void CellExecuted(string notebookId, string cellId, TimeSpan duration);

    [LogEvent(Priority.Batch)]
    public static partial void CopyPaste(string notebookId, [NotLogged] string clipboardText, int length);

    [LogEvent(Priority.Batch)]
    public static partial void EveryType(
        bool flag,
        sbyte int8,
        byte uint8,
        short int16,
        ushort uint16,
        int int32,
        uint uint32,
        long int64,
        ulong uint64,
        float single,
        double real,
        decimal money,
        char letter,
        Guid guid,
        DateTime when,
        DateTimeOffset whenOffset,
        TimeSpan elapsed,
        CellKind kind,
        Permissions permissions,
        Uri? link,
        int? maybeCount,
        CellKind? maybeKind,
        string? note);

    [LogEvent(Priority.Batch)]
    public static partial void Collections(string[] tags, IEnumerable<int> counts, List<CellKind> kinds, int?[] sparse, IReadOnlyList<TimeSpan> laps);

    [LogEvent(Priority.Batch, Name = "window-focus")]
    public static partial void WindowFocus(bool focused, string id);
}

/// <summary>A partial-method event declared in an instance, nested, non-public context.</summary>
public partial class Outer
{
    internal partial class Inner
    {
        [LogEvent(Priority.Immediate)]
        internal partial void InnerHappened(int value);
    }
}
