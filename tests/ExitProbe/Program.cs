using Instrumentation;

// Usage:
//   ExitProbe <endpoint> <events>                      record, then return from Main without disposing (shutdown test)
//   ExitProbe durable <endpoint> <spool> <events>       record in durable mode, printing "durable N" as records reach the disk;
//                                                       then wait to be killed (crash test)
//   ExitProbe replay <endpoint> <spool>                 start in durable mode, deliver what the spool holds, print "replayed N"
//   ExitProbe diskfull <endpoint> <spool> <events>     durable mode with few events in memory (the uploader falls behind):
//                                                       record, print "recorded N durable D", wait for a line on stdin, flush (20 s
//                                                       at most), print "flushed"/"flush timed out" and the counts, dispose.
//                                                       Run under a file size limit (ulimit -f) so the spool's writes fail.
if (args[0] == "diskfull")
{
    var options = new LogManagerOptions
    {
        Endpoint = new Uri(args[1]),
        SpoolDirectory = args[2],
        SpoolFlushPolicy = SpoolFlushPolicy.None, // durable once written: what a kill -9 (not a power loss) keeps
        FlushOnProcessExit = false,
        MaxQueuedEvents = 100,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        CircuitProbeMaxDelay = TimeSpan.FromMilliseconds(200),
        ShutdownTimeout = TimeSpan.Zero,
    };
    LogManager logs = LogManager.Start(options);
    int count = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
    for (int i = 0; i < count; i++)
    {
        ProbeEvents.Tick(i);
    }

    while (logs.GetStatistics().EventsRecorded < count)
    {
        Thread.Sleep(10);
    }

    Console.WriteLine("recorded " + count + " durable " + logs.GetStatistics().EventsDurable);
    Console.Out.Flush();
    Console.In.ReadLine();
    bool flushed;
    try
    {
        await logs.FlushAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
        flushed = true;
    }
    catch (OperationCanceledException)
    {
        flushed = false;
    }

    LogManagerStatistics statistics = logs.GetStatistics();
    Console.WriteLine(flushed ? "flushed" : "flush timed out");
    Console.WriteLine($"uploaded {statistics.EventsUploaded} dropped {statistics.EventsDropped.Values.Sum()} pending {statistics.PendingCount}");
    await logs.DisposeAsync();
    return 0;
}

if (args[0] == "durable")
{
    var options = new LogManagerOptions { Endpoint = new Uri(args[1]), SpoolDirectory = args[2], FlushOnProcessExit = false };
    LogManager logs = LogManager.Start(options);
    int count = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
    long printed = 0;
    for (int i = 0; i < count; i++)
    {
        ProbeEvents.Tick(i);
        if (i % 25 == 0)
        {
            Thread.Sleep(2); // spread the recording over many flush intervals
            printed = PrintDurable(logs, printed);
        }
    }

    while (true)
    {
        Thread.Sleep(20);
        printed = PrintDurable(logs, printed);
    }
}

if (args[0] == "replay")
{
    var options = new LogManagerOptions { Endpoint = new Uri(args[1]), SpoolDirectory = args[2], FlushOnProcessExit = false };
    await using LogManager logs = LogManager.Start(options);
    await logs.FlushAsync();
    Console.WriteLine("replayed " + logs.GetStatistics().EventsReplayed);
    return 0;
}

LogManager.Start(new LogManagerOptions { Endpoint = new Uri(args[0]), MaxWaitTime = TimeSpan.FromMinutes(10) });
int total = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
ProbeEvents.Started(total);
for (int i = 0; i < total; i++)
{
    ProbeEvents.Tick(i);
}

Console.WriteLine("recorded " + (total + 1));
return 0; // no Dispose, no Flush: the process-exit hook must deliver the batch

static long PrintDurable(LogManager logs, long printed)
{
    long durable = logs.GetStatistics().EventsDurable;
    if (durable > printed)
    {
        Console.WriteLine("durable " + durable);
        Console.Out.Flush();
    }

    return Math.Max(durable, printed);
}

internal static partial class ProbeEvents
{
    [LogEvent(Priority.Immediate)]
    public static partial void Started(int count);

    [LogEvent(Priority.Batch)]
    public static partial void Tick(int index);
}
