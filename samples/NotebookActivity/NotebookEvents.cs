using Instrumentation;

namespace NotebookActivity;

/// <summary>Events the notebook front end records directly: the generator writes these bodies.</summary>
public static partial class NotebookEvents
{
    [LogEvent(Priority.Immediate, Name = "window_focus")]
    public static partial void WindowFocusChanged(bool focused);

    [LogEvent(Priority.Immediate, Name = "notebook")]
    public static partial void NotebookVisited(string notebookId, TimeSpan duration);

    [LogEvent(Priority.Batch, Name = "copy_paste")]
    public static partial void CopyPaste(string notebookId, string cellId, int length, [NotLogged] string text);
}
