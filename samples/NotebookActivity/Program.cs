using Instrumentation;
using Instrumentation.Collector.Hosting;
using Instrumentation.Collector.Storage;
using NotebookActivity;

// A student's session in a notebook, recorded with both event forms and uploaded through LogManager: window focus
// and notebook visits go up immediately, cell runs and copy/paste in batches of 50 (or every 30 s).
// By default the reference collector runs embedded in this process on 127.0.0.1 (a free port) with a temporary
// SQLite file; pass --endpoint http://127.0.0.1:5080 to send to a collector started with `dotnet run --project src/Collector`.
// With --serve the embedded collector keeps running afterwards and serves its dashboard until Ctrl+C.
string? external = args.SkipWhile(a => a != "--endpoint").Skip(1).FirstOrDefault();
bool serve = args.Contains("--serve");
string database = Path.Combine(Path.GetTempPath(), $"notebook-activity-{Environment.ProcessId}.db");
RunningCollector? embedded = external is null
    ? await CollectorHost.StartAsync(new CollectorOptions { DatabasePath = database }, "http://127.0.0.1:0")
    : null;
Uri endpoint = embedded?.Address ?? new Uri(external!);

var options = new LogManagerOptions { Endpoint = endpoint };
options.Context["net_id"] = "ab123";
options.Context["course_id"] = "cs101";
LogManagerStatistics sent;
await using (LogManager logs = LogManager.Start(options))
{
    var kernel = new Kernel();
    NotebookEvents.WindowFocusChanged(focused: true);
    NotebookEvents.NotebookVisited("nb-intro", TimeSpan.FromSeconds(95));
    using (LogContext.Push("notebook_id", "nb-intro"))
    {
        for (int cell = 1; cell <= 120; cell++)
        {
            await kernel.ExecuteCellAsync("nb-intro", "c" + cell, "print(" + cell + ")");
            if (cell % 10 == 0)
            {
                NotebookEvents.CopyPaste("nb-intro", "c" + cell, length: 42, text: "df.groupby('x').mean()");
            }
        }

        try
        {
            await kernel.ExecuteCellAsync("nb-intro", "c121", "raise ValueError()");
        }
        catch (InvalidOperationException)
        {
            // The hook recorded the failure (with its exception type) and rethrew it untouched.
        }
    }

    NotebookEvents.WindowFocusChanged(focused: false);
    await logs.FlushAsync();
    sent = logs.GetStatistics();
}

Console.WriteLine($"Sent to {endpoint}");
Console.WriteLine($"  events recorded: {sent.EventsRecorded}, uploaded: {sent.EventsUploaded}, pending: {sent.PendingCount}");
Console.WriteLine($"  requests: {sent.ImmediateRequests} immediate (POST /logs), {sent.BatchRequests} batch (POST /logs/batch)");
Console.WriteLine($"  bytes: {sent.BytesBeforeCompression:N0} before compression, {sent.BytesSent:N0} on the wire");
if (embedded is not null)
{
    StoreStatistics stored = await embedded.Store.GetStatisticsAsync(CancellationToken.None);
    Console.WriteLine($"The collector stored {stored.Total} events in {database}:");
    foreach ((string type, long count) in stored.ByType)
    {
        Console.WriteLine($"  {type,-14} {count,5}");
    }

    Console.WriteLine($"  by priority: " + string.Join(", ", stored.ByPriority.Select(p => $"{p.Key} {p.Value}")));
    if (serve)
    {
        await ServeUntilStoppedAsync(embedded.Address);
    }

    await embedded.DisposeAsync();
    foreach (string file in Instrumentation.Collector.Storage.Sqlite.SqliteEventStore.FilesOf(database)) // the events file, the dashboard's rollup file, the lock file
    {
        File.Delete(file);
    }
}
else if (serve)
{
    Console.WriteLine($"--serve keeps the embedded collector running; the collector at {endpoint} serves its own dashboard at {endpoint}.");
}

// Waits for Ctrl+C or SIGTERM while the collector serves the dashboard (overview, live tail, explorer, activity).
static async Task ServeUntilStoppedAsync(Uri address)
{
    var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    ConsoleCancelEventHandler onCancel = (_, e) =>
    {
        e.Cancel = true;
        stopped.TrySetResult();
    };
    Console.CancelKeyPress += onCancel;
    using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
    {
        context.Cancel = true;
        stopped.TrySetResult();
    });
    Console.WriteLine();
    Console.WriteLine($"Dashboard: {address}");
    Console.WriteLine("The collector keeps running: open the address in a browser. Press Ctrl+C to stop.");
    await stopped.Task;
    Console.CancelKeyPress -= onCancel;
}
