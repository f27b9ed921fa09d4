using Instrumentation;
using Instrumentation.Testing;
using NotebookActivity;

// A student's session in a notebook: window focus and visits are immediate events, cell runs and copy/paste are
// batched. Until the uploader lands, the events are captured in memory and printed as the JSON that will be sent.
var sink = new InMemoryLogEventSink();
using (LogEventHub.Attach(sink))
{
    var kernel = new Kernel();
    NotebookEvents.WindowFocusChanged(focused: true);
    NotebookEvents.NotebookVisited("nb-intro", TimeSpan.FromSeconds(95));
    for (int cell = 1; cell <= 5; cell++)
    {
        await kernel.ExecuteCellAsync("nb-intro", "c" + cell, "print(" + cell + ")");
    }

    NotebookEvents.CopyPaste("nb-intro", "c3", length: 42, text: "df.groupby('x').mean()");
    try
    {
        await kernel.ExecuteCellAsync("nb-intro", "c6", "raise ValueError()");
    }
    catch (InvalidOperationException)
    {
        // The hook recorded the failure and rethrew it untouched.
    }

    NotebookEvents.WindowFocusChanged(focused: false);
}

foreach (LogEventPayload payload in sink.Events)
{
    Console.WriteLine(payload.ToJson());
}

Console.WriteLine();
Console.WriteLine($"{sink.Count} events recorded: " + string.Join(", ", sink.Events.GroupBy(e => e.EventType).Select(g => $"{g.Key} x{g.Count()}")));
