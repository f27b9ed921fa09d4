using Instrumentation;

namespace Instrumentation.WebHost;

/// <summary>The events this app records.</summary>
public static partial class NotebookActivity
{
    /// <summary>A user opened a cell.</summary>
    /// <param name="notebookId">The notebook.</param>
    /// <param name="cellId">The cell.</param>
    [LogEvent(Priority.Immediate, Name = "cell_opened")]
    public static partial void CellOpened(string notebookId, string cellId);
}
